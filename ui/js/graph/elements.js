// Fenghuo console — the entity graph's elements: a pure function of the incident, the host
// placements and the grouping mode (no cytoscape, no DOM).
import { t } from '../i18n.js';
import './messages.js';
import { CELL_W } from './layout.js';

export const TYPES = ['tenant', 'host', 'vm', 'container', 'process', 'account', 'ip', 'resource'];
const SEV_RANK = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };
// Entities with neither host nor tenant (IPs, accounts, ...) are boxed per type in the grouped
// modes once there are this many of a type: a labelled block instead of a loose grid of dots.
const TYPE_GROUP_MIN = 4;
const DENSE_EDGES = 150;

function typeOf(id, type) {
  if (type) return type;
  const i = id.indexOf(':');
  return i > 0 ? id.slice(0, i) : 'other';
}
function bare(id) { const i = id.indexOf(':'); return i > 0 ? id.slice(i + 1) : id; }
function processHost(id) { // "process:<host>:<pid>"
  const rest = bare(id); const j = rest.lastIndexOf(':');
  return j > 0 ? rest.slice(0, j) : null;
}

/**
 * Pure: the cytoscape elements for an incident. `placements`: Map host id → {vms: [{name,
 * tenant_id}], containers: [{id, tenant_id}]} as GET /hosts answered (may be partial).
 * mode: 'host' | 'tenant' | 'none'. Groups are nodes with ids `g:h:<host>`, `g:ht:<host>\0<tenant>`,
 * `g:t:<tenant>`, `g:x:<type>`; every node carries its name's font size and width (`fs`, `lw`).
 * Returns {elements, nodes (leaf data), roles, edgeCount}.
 */
export function buildElements(incident, placements = new Map(), mode = 'host') {
  const inc = incident || {};
  const blast = inc.blast_radius || {};
  const actors = new Set(inc.actor_tenants || []);
  const victims = new Set(inc.tenants || []);
  const blastTenants = new Set(blast.tenants || []);
  const blastVms = new Set(blast.vms || []);
  const blastHosts = new Set(blast.hosts || []);
  const blastRes = new Set(blast.resources || []);
  const coresident = new Set([...blastTenants].filter((x) => !actors.has(x) && !victims.has(x)));
  const sevOf = new Map((inc.timeline || []).map((e) => [e.alert_id, e.severity]));

  const nodes = new Map(); // id → {id, type, label, context}
  const add = (id, type, label, context = false) => {
    if (!nodes.has(id)) nodes.set(id, { id, type: typeOf(id, type), label: label || bare(id), context });
    return nodes.get(id);
  };
  for (const n of inc.nodes || []) add(n.id, n.type, n.label);
  const involvedVms = new Set([...nodes.values()].filter((n) => n.type === 'vm').map((n) => bare(n.id)));

  // placement: vm/container → host, tenant
  const where = new Map(); // node id → {host, tenant}
  for (const [host, p] of placements) {
    for (const v of (p && p.vms) || []) where.set(`vm:${v.name}`, { host, tenant: v.tenant_id });
    for (const c of (p && p.containers) || []) where.set(`container:${c.id}`, { host, tenant: c.tenant_id });
  }
  // the blast radius: exposed tenants, hosts and VMs (co-resident) are drawn even if no alert names them
  for (const x of [...actors, ...victims, ...blastTenants]) add(`tenant:${x}`, 'tenant', x, !actors.has(x) && !victims.has(x) && !nodes.has(`tenant:${x}`));
  for (const h of [...(inc.hosts || []), ...blastHosts]) add(`host:${h}`, 'host', h);
  for (const v of blastVms) add(`vm:${v}`, 'vm', v, !involvedVms.has(v));
  for (const r of blastRes) if (!nodes.has(`resource:${r}`)) add(`resource:${r}`, 'resource', r, true);

  // edges: alerts merged per unordered pair, labelled by detector
  const pairs = new Map();
  for (const e of inc.edges || []) {
    if (!nodes.has(e.source)) add(e.source);
    if (!nodes.has(e.target)) add(e.target);
    const key = e.source < e.target ? `${e.source}\u0000${e.target}` : `${e.target}\u0000${e.source}`;
    let p = pairs.get(key);
    if (!p) { p = { source: e.source, target: e.target, detectors: new Set(), alerts: new Set(), sev: 0 }; pairs.set(key, p); }
    p.detectors.add(e.detector);
    p.alerts.add(e.alert_id);
    p.sev = Math.max(p.sev, SEV_RANK[sevOf.get(e.alert_id)] ?? 2);
  }
  // tenant of other entities: placement first, else the one tenant an alert ties it to
  const tenantOf = new Map();
  for (const [id, w] of where) if (w.tenant) tenantOf.set(id, w.tenant);
  const tenantLinks = new Map();
  for (const p of pairs.values()) {
    for (const [a, b] of [[p.source, p.target], [p.target, p.source]]) {
      if (typeOf(b) === 'tenant' && typeOf(a) !== 'tenant') {
        if (!tenantLinks.has(a)) tenantLinks.set(a, new Set());
        tenantLinks.get(a).add(bare(b));
      }
    }
  }
  for (const [id, set] of tenantLinks) if (!tenantOf.has(id) && set.size === 1) tenantOf.set(id, [...set][0]);
  // ownership links (dotted) for exposed VMs/containers with no alert to their tenant
  const own = [];
  for (const n of nodes.values()) {
    if (n.type !== 'vm' && n.type !== 'container') continue;
    const tn = tenantOf.get(n.id);
    if (!tn) continue;
    const tid = `tenant:${tn}`;
    const key = n.id < tid ? `${n.id}\u0000${tid}` : `${tid}\u0000${n.id}`;
    if (pairs.has(key)) continue;
    add(tid, 'tenant', tn, !actors.has(tn) && !victims.has(tn));
    own.push({ source: n.id, target: tid });
  }
  // a role's or resource's ARN names its account: owned by it (dotted) when the account is drawn
  for (const n of nodes.values()) {
    const acct = n.type === 'resource' && /^arn:[^:]*:[^:]*:[^:]*:(\d{12}):/.exec(bare(n.id));
    if (!acct || !nodes.has(`account:${acct[1]}`)) continue;
    const aid = `account:${acct[1]}`;
    if (!pairs.has(n.id < aid ? `${n.id}\u0000${aid}` : `${aid}\u0000${n.id}`)) own.push({ source: n.id, target: aid });
  }
  const hostOf = (n) => {
    if (n.type === 'process') return processHost(n.id);
    if (n.type === 'host') return bare(n.id);
    const w = where.get(n.id);
    return w ? w.host : null;
  };
  const roleOfTenant = (x) => (actors.has(x) ? 'actor' : victims.has(x) ? 'victim' : coresident.has(x) ? 'coresident' : 'tenant');

  const elements = [];
  const groups = new Map();
  const group = (id, data, classes) => { if (!groups.has(id)) groups.set(id, { group: 'nodes', data: { id, ...data }, classes }); return id; };
  const tenantLabel = (x) => {
    const r = roleOfTenant(x);
    return r === 'tenant' ? x : `${x} · ${t(`graph.role.${r}`)}`;
  };
  for (const n of nodes.values()) {
    const classes = [`t-${TYPES.includes(n.type) ? n.type : 'other'}`];
    if (n.type === 'tenant') classes.push(`r-${roleOfTenant(bare(n.id))}`);
    const id = bare(n.id);
    if ((n.type === 'tenant' && blastTenants.has(id)) || (n.type === 'vm' && blastVms.has(id))
      || (n.type === 'host' && blastHosts.has(id)) || (n.type === 'resource' && blastRes.has(id))) classes.push('blast');
    if (n.context) classes.push('context');
    let parent;
    const host = hostOf(n);
    const tn = n.type === 'tenant' ? bare(n.id) : tenantOf.get(n.id);
    if (mode === 'host' && host && n.type !== 'tenant') {
      const hg = group(`g:h:${host}`, { label: `${t('graph.type.host')} ${host}`, kind: 'host' }, 'grp grp-host');
      if ((n.type === 'vm' || n.type === 'container') && tn) {
        parent = group(`g:ht:${host}\u0000${tn}`, { label: tenantLabel(tn), parent: hg, kind: 'tenant' }, `grp grp-tenant gr-${roleOfTenant(tn)}`);
      } else parent = hg;
    } else if (mode === 'tenant') {
      if (tn && n.type !== 'process' && n.type !== 'host') {
        parent = group(`g:t:${tn}`, { label: tenantLabel(tn), kind: 'tenant' }, `grp grp-tenant gr-${roleOfTenant(tn)}`);
      } else if (host) {
        parent = group(`g:h:${host}`, { label: `${t('graph.type.host')} ${host}`, kind: 'host' }, 'grp grp-host');
      }
    }
    const label = n.type === 'process' ? `pid ${id.slice(id.lastIndexOf(':') + 1)}` : n.label;
    const fs = n.type === 'tenant' ? 13 : n.type === 'process' ? 9 : 11;
    const lw = mode === 'none' ? 120 : CELL_W - 8; // no wider than a grid cell: neighbours' names do not overlap
    elements.push({ group: 'nodes', data: { id: n.id, label, type: n.type, full: n.label, parent, fs, lw }, classes: classes.join(' ') });
  }
  // grouped modes: entities of no host or tenant (IPs, accounts, ...) boxed per type
  if (mode !== 'none') {
    const loose = new Map();
    for (const e of elements) {
      if (e.data.parent || e.data.type === 'tenant') continue;
      if (!loose.has(e.data.type)) loose.set(e.data.type, []);
      loose.get(e.data.type).push(e);
    }
    for (const [type, list] of loose) {
      if (list.length < TYPE_GROUP_MIN) continue;
      const name = t(`graph.type.${TYPES.includes(type) ? type : 'other'}`);
      const g = group(`g:x:${type}`, { label: t('graph.typegrp', { t: name, n: list.length }), kind: 'type' }, 'grp grp-type');
      for (const e of list) e.data.parent = g;
    }
  }
  for (const g of groups.values()) Object.assign(g.data, { fs: 11, lw: 400 });
  // many links: drawn lighter, so groups and the focused neighbourhood stand out
  const dense = pairs.size > DENSE_EDGES ? ' dense' : '';
  let i = 0;
  for (const p of pairs.values()) {
    const dets = [...p.detectors].sort();
    const label = dets.length > 2 ? `${dets.slice(0, 2).join(', ')} +${dets.length - 2}` : dets.join(', ');
    elements.push({ group: 'edges', data: { id: `e${i++}`, source: p.source, target: p.target, label, detectors: dets, alerts: [...p.alerts], sev: p.sev }, classes: `alert s${p.sev}${dense}` });
  }
  for (const o of own) elements.push({ group: 'edges', data: { id: `o${i++}`, source: o.source, target: o.target, label: '' }, classes: 'own' });
  return {
    elements: [...groups.values(), ...elements],
    nodes: [...nodes.values()],
    roles: { actors: [...actors], victims: [...victims], coresident: [...coresident] },
    edgeCount: pairs.size,
  };
}
