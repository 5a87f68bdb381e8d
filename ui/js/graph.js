// Fenghuo console — the incident entity graph (cytoscape, vendored as one ES module).
//
// entityGraph(container, incident, {placements, onSelect}) draws the incident's `nodes` and
// `edges` (alerts, merged per entity pair and labelled by detector), adds the blast radius the
// API reports (co-resident tenants and their VMs on the hosts, from GET /hosts/{id}), groups
// entities in compound nodes (per host with a sub-group per tenant, or per tenant), highlights
// attacker / victim / co-resident tenants and the blast radius, focuses a node's neighbourhood
// on click, and keeps node positions per incident and grouping in sessionStorage so a re-render
// (language switch, coming back) shows the same picture.
import { el, mount } from './format.js';
import { t, register } from './i18n.js';

const CYTOSCAPE_URL = new URL('../vendor/cytoscape/cytoscape.esm.min.mjs', import.meta.url).href;
const POS_KEY = 'fenghuo.graph.v1.';
const MODE_KEY = 'fenghuo.graph.mode';
// cytoscape prepends an inline <style> unless an element with this id exists; the strict CSP
// would refuse it (and log an error), so we provide the rule in views.css and this placeholder.
const CY_STYLESHEET_ID = '__________cytoscape_stylesheet';

register({
  zh: {
    'graph.title': '实体关系图', 'graph.group': '分组', 'graph.group.host': '按宿主机', 'graph.group.tenant': '按租户', 'graph.group.none': '不分组',
    'graph.fit': '适应窗口', 'graph.reset': '取消聚焦', 'graph.relayout': '重新布局', 'graph.find': '查找实体', 'graph.find.ph': '名称或 ID',
    'graph.aria': '事件实体关系图：{n} 个实体，{e} 条告警连线。攻击方租户：{a}；受害租户：{v}；同宿主机租户：{c}。下方“实体列表”提供同样内容的键盘访问。',
    'graph.none': '无', 'graph.loading': '正在加载图形组件…',
    'graph.unavailable': '图形组件（ui/vendor/cytoscape/）无法加载：{e}。下方实体列表仍可使用。',
    'graph.empty': '该事件没有实体图数据（API 返回的 nodes 为空）。',
    'graph.list': '实体列表（{n}）', 'graph.focus': '聚焦', 'graph.hint': '点击实体查看其邻域；点击空白处或按 Esc 取消聚焦；滚轮缩放，拖动平移。',
    'graph.sel.none': '未选择实体。', 'graph.sel.alerts': '相关告警', 'graph.sel.open': '打开', 'graph.sel.neigh': '相邻实体：{n}',
    'graph.legend': '图例', 'graph.lg.actor': '攻击方租户', 'graph.lg.victim': '受害租户', 'graph.lg.coresident': '同宿主机租户（爆炸半径）',
    'graph.lg.tenant': '其他租户', 'graph.lg.blast': '爆炸半径内（双线边框）', 'graph.lg.context': '未直接涉及、因同宿主机而暴露（虚线）',
    'graph.lg.host': '宿主机', 'graph.lg.vm': '虚拟机', 'graph.lg.container': '容器', 'graph.lg.process': '进程', 'graph.lg.account': '账号',
    'graph.lg.ip': 'IP 地址', 'graph.lg.resource': '云资源', 'graph.lg.alert': '告警（连线，标注检测器）', 'graph.lg.own': '归属（虚线，非告警）',
    'graph.lg.hostgrp': '宿主机分组', 'graph.lg.tenantgrp': '租户分组',
    'graph.type.tenant': '租户', 'graph.type.host': '宿主机', 'graph.type.vm': '虚拟机', 'graph.type.container': '容器', 'graph.type.process': '进程',
    'graph.type.account': '账号', 'graph.type.ip': 'IP', 'graph.type.resource': '资源', 'graph.type.other': '其他',
    'graph.role.actor': '攻击方', 'graph.role.victim': '受害方', 'graph.role.coresident': '同宿主机', 'graph.role.blast': '爆炸半径',
    'graph.edge': '{d}（{n} 条告警）', 'graph.more': '另 {n} 个',
  },
  en: {
    'graph.title': 'Entity graph', 'graph.group': 'Group', 'graph.group.host': 'By host', 'graph.group.tenant': 'By tenant', 'graph.group.none': 'Flat',
    'graph.fit': 'Fit', 'graph.reset': 'Clear focus', 'graph.relayout': 'Re-layout', 'graph.find': 'Find entity', 'graph.find.ph': 'name or id',
    'graph.aria': 'Incident entity graph: {n} entities, {e} alert links. Attacker tenants: {a}; victim tenants: {v}; co-resident tenants: {c}. The entity list below gives keyboard access to the same content.',
    'graph.none': 'none', 'graph.loading': 'Loading the graph component…',
    'graph.unavailable': 'The graph component (ui/vendor/cytoscape/) could not be loaded: {e}. The entity list below still works.',
    'graph.empty': 'This incident has no entity graph (the API returned no nodes).',
    'graph.list': 'Entity list ({n})', 'graph.focus': 'Focus', 'graph.hint': 'Click an entity to focus its neighbourhood; click the background or press Esc to clear; wheel to zoom, drag to pan.',
    'graph.sel.none': 'No entity selected.', 'graph.sel.alerts': 'Alerts', 'graph.sel.open': 'Open', 'graph.sel.neigh': 'Neighbours: {n}',
    'graph.legend': 'Legend', 'graph.lg.actor': 'Attacker tenant', 'graph.lg.victim': 'Victim tenant', 'graph.lg.coresident': 'Co-resident tenant (blast radius)',
    'graph.lg.tenant': 'Other tenant', 'graph.lg.blast': 'In the blast radius (double border)', 'graph.lg.context': 'Not involved, exposed by co-residency (dashed)',
    'graph.lg.host': 'Host', 'graph.lg.vm': 'VM', 'graph.lg.container': 'Container', 'graph.lg.process': 'Process', 'graph.lg.account': 'Account',
    'graph.lg.ip': 'IP address', 'graph.lg.resource': 'Cloud resource', 'graph.lg.alert': 'Alert (link, labelled by detector)', 'graph.lg.own': 'Ownership (dotted, not an alert)',
    'graph.lg.hostgrp': 'Host group', 'graph.lg.tenantgrp': 'Tenant group',
    'graph.type.tenant': 'Tenant', 'graph.type.host': 'Host', 'graph.type.vm': 'VM', 'graph.type.container': 'Container', 'graph.type.process': 'Process',
    'graph.type.account': 'Account', 'graph.type.ip': 'IP', 'graph.type.resource': 'Resource', 'graph.type.other': 'Other',
    'graph.role.actor': 'attacker', 'graph.role.victim': 'victim', 'graph.role.coresident': 'co-resident', 'graph.role.blast': 'blast radius',
    'graph.edge': '{d} ({n} alerts)', 'graph.more': '{n} more',
  },
});

const TYPES = ['tenant', 'host', 'vm', 'container', 'process', 'account', 'ip', 'resource'];
const SEV_RANK = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };

let cyPromise = null;
/** The vendored cytoscape factory (loaded once, on first use). */
export function loadCytoscape() {
  if (!cyPromise) {
    if (!document.getElementById(CY_STYLESHEET_ID)) {
      document.head.appendChild(el('meta', { id: CY_STYLESHEET_ID, name: 'cytoscape-stylesheet-placeholder', content: 'css/views.css' }));
    }
    cyPromise = import(CYTOSCAPE_URL).then((m) => m.default || m).catch((e) => { cyPromise = null; throw e; });
  }
  return cyPromise;
}

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
 * tenant_id}], containers: [{id, tenant_id}]} as GET /hosts/{id} answered (may be partial).
 * mode: 'host' | 'tenant' | 'none'. Returns {elements, nodes (leaf data), roles}.
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
    elements.push({ group: 'nodes', data: { id: n.id, label, type: n.type, full: n.label, parent }, classes: classes.join(' ') });
  }
  let i = 0;
  for (const p of pairs.values()) {
    const dets = [...p.detectors].sort();
    const label = dets.length > 2 ? `${dets.slice(0, 2).join(', ')} +${dets.length - 2}` : dets.join(', ');
    elements.push({ group: 'edges', data: { id: `e${i++}`, source: p.source, target: p.target, label, detectors: dets, alerts: [...p.alerts], sev: p.sev }, classes: `alert s${p.sev}` });
  }
  for (const o of own) elements.push({ group: 'edges', data: { id: `o${i++}`, source: o.source, target: o.target, label: '' }, classes: 'own' });
  return {
    elements: [...groups.values(), ...elements],
    nodes: [...nodes.values()],
    roles: { actors: [...actors], victims: [...victims], coresident: [...coresident] },
    edgeCount: pairs.size,
  };
}


// A deterministic layout for the grouped modes: groups packed in rows, leaves in grids inside
// them, tenants on top ordered attacker → victims → co-resident → others. Readable at hundreds
// of nodes and stable across re-renders (force layouts with compound nodes sprawl).
const CELL_W = 92; const CELL_H = 66; const GAP = 34; const PAD = 22; const LABEL = 18;
const TYPE_ORDER = ['tenant', 'host', 'vm', 'container', 'process', 'account', 'ip', 'resource', 'other'];
const ROLE_ORDER = { 'r-actor': 0, 'r-victim': 1, 'r-coresident': 2 };
function leafRank(e) {
  const role = Object.keys(ROLE_ORDER).find((r) => (e.classes || '').includes(r));
  return [role ? ROLE_ORDER[role] : 3, TYPE_ORDER.indexOf(e.data.type) < 0 ? 99 : TYPE_ORDER.indexOf(e.data.type), e.data.label];
}
function cmp(a, b) {
  const x = leafRank(a); const y = leafRank(b);
  return x[0] - y[0] || x[1] - y[1] || String(x[2]).localeCompare(String(y[2]));
}
function groupRank(g) {
  const c = g.classes || '';
  return c.includes('gr-actor') ? 0 : c.includes('gr-victim') ? 1 : c.includes('gr-coresident') ? 2 : c.includes('grp-host') ? 4 : 3;
}
export function structuredPositions(elements) {
  const nodes = elements.filter((e) => e.group === 'nodes');
  const kids = new Map();
  const isGroup = new Set(nodes.filter((e) => String(e.data.id).startsWith('g:')).map((e) => e.data.id));
  for (const e of nodes) {
    const p = e.data.parent || '';
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(e);
  }
  const pos = {};
  function pack(id, top) {
    const children = kids.get(id) || [];
    const leaves = children.filter((e) => !isGroup.has(e.data.id)).sort(cmp);
    const groups = children.filter((e) => isGroup.has(e.data.id)).sort((a, b) => groupRank(a) - groupRank(b) || String(a.data.label).localeCompare(String(b.data.label)));
    const packed = groups.map((g) => ({ g, ...pack(g.data.id, false) }));
    // leaves: tenants in one row at the top level; otherwise a grid
    const cols = top ? Math.max(1, Math.min(leaves.length, 10)) : Math.max(1, Math.ceil(Math.sqrt(leaves.length * 1.5)));
    const rows = Math.ceil(leaves.length / cols);
    const leafW = leaves.length ? cols * CELL_W : 0;
    const leafH = rows * CELL_H;
    const area = packed.reduce((s, q) => s + (q.w + GAP) * (q.h + GAP), 0);
    const maxW = Math.max(leafW, top ? 1400 : Math.max(360, Math.sqrt(area) * 1.6));
    let x = 0; let y = 0; let rowH = 0; let w = leafW;
    const place = [];
    for (const q of packed) {
      if (x > 0 && x + q.w > maxW) { x = 0; y += rowH + GAP; rowH = 0; }
      place.push([q, x, y]);
      x += q.w + GAP; rowH = Math.max(rowH, q.h); w = Math.max(w, x - GAP);
    }
    const groupsH = packed.length ? y + rowH : 0;
    const out = [];
    // top level: tenants above the groups; inside a group: sub-groups above the leaves
    const leavesFirst = top;
    const leafY = leavesFirst ? 0 : (groupsH ? groupsH + GAP : 0);
    const groupY = leavesFirst ? (leaves.length ? leafH + GAP : 0) : 0;
    leaves.forEach((e, i) => out.push([e.data.id, (i % cols) * CELL_W + CELL_W / 2 + (w - leafW) / 2, leafY + Math.floor(i / cols) * CELL_H + CELL_H / 2]));
    for (const [q, gx, gy] of place) for (const [nid, px, py] of q.out) out.push([nid, gx + px + PAD, groupY + gy + py + PAD + LABEL]);
    const h = (leaves.length ? leafH : 0) + (groupsH ? groupsH : 0) + (leaves.length && groupsH ? GAP : 0);
    return { w: w + (top ? 0 : 2 * PAD), h: h + (top ? 0 : 2 * PAD + LABEL), out };
  }
  for (const [nid, x, y] of pack('', true).out) pos[nid] = { x, y };
  return pos;
}

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function stylesheet() {
  const fg = cssVar('--g-fg', '#1b2330');
  const bg = cssVar('--g-bg', '#ffffff');
  const muted = cssVar('--g-muted', '#5b6778');
  const font = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif';
  return [
    { selector: 'node', style: {
      label: 'data(label)', 'font-family': font, 'font-size': 11, color: fg, 'text-valign': 'bottom', 'text-margin-y': 3,
      'text-wrap': 'ellipsis', 'text-max-width': 120, 'min-zoomed-font-size': 7, 'background-color': '#8a96a8',
      'border-width': 1.5, 'border-color': fg, width: 26, height: 26,
      'text-background-color': bg, 'text-background-opacity': 0.75, 'text-background-padding': 1,
    } },
    { selector: 'node.t-tenant', style: { shape: 'round-rectangle', width: 46, height: 30, 'font-size': 13, 'font-weight': 'bold', 'background-color': '#b7c3d3', 'min-zoomed-font-size': 0 } },
    { selector: 'node.t-host', style: { 'min-zoomed-font-size': 0 } },
    { selector: 'node.r-actor', style: { 'background-color': '#b3261e', 'border-width': 3, 'border-color': '#3b0a07', shape: 'octagon', width: 44, height: 44 } },
    { selector: 'node.r-victim', style: { 'background-color': '#f59e0b', 'border-width': 3, 'border-color': '#5c3a00', shape: 'round-rectangle' } },
    { selector: 'node.r-coresident', style: { 'background-color': '#fde68a', 'border-width': 2, 'border-color': '#7c5e10', shape: 'round-rectangle' } },
    { selector: 'node.t-host', style: { shape: 'rectangle', 'background-color': '#1e3a5f', width: 34, height: 26, 'border-color': '#0b1726' } },
    { selector: 'node.t-vm', style: { shape: 'ellipse', 'background-color': '#4f83cc' } },
    { selector: 'node.t-container', style: { shape: 'hexagon', 'background-color': '#2f9e8f' } },
    { selector: 'node.t-process', style: { shape: 'diamond', 'background-color': '#7a5cc2', width: 16, height: 16, 'font-size': 9, 'min-zoomed-font-size': 10 } },
    { selector: 'node.t-account', style: { shape: 'triangle', 'background-color': '#c2410c' } },
    { selector: 'node.t-ip', style: { shape: 'barrel', 'background-color': '#64748b', width: 30, height: 20 } },
    { selector: 'node.t-resource', style: { shape: 'cut-rectangle', 'background-color': '#0e7490' } },
    { selector: 'node.blast', style: { 'border-style': 'double', 'border-width': 5, 'border-color': '#b3261e' } },
    { selector: 'node.r-actor.blast', style: { 'border-color': '#3b0a07' } },
    { selector: 'node.context', style: { 'border-style': 'dashed', 'background-opacity': 0.55 } },
    { selector: 'node.context.blast', style: { 'border-style': 'dashed', 'border-width': 3 } },
    { selector: ':parent', style: {
      'background-opacity': 0.06, 'background-color': muted, 'border-width': 1, 'border-color': muted, 'border-style': 'solid',
      label: 'data(label)', 'text-valign': 'top', 'text-halign': 'center', 'font-size': 11, 'font-weight': 'bold', 'text-margin-y': -3,
      padding: 14, shape: 'round-rectangle', 'min-zoomed-font-size': 5,
    } },
    { selector: ':parent.grp-host', style: { 'border-width': 2, 'border-color': '#1e3a5f', 'background-color': '#1e3a5f', 'background-opacity': 0.07 } },
    { selector: ':parent.grp-tenant', style: { 'border-style': 'dashed', 'background-opacity': 0.1 } },
    { selector: ':parent.gr-actor', style: { 'border-color': '#b3261e', 'background-color': '#b3261e', 'border-width': 2.5, 'border-style': 'solid' } },
    { selector: ':parent.gr-victim', style: { 'border-color': '#b45309', 'background-color': '#f59e0b', 'border-width': 2 } },
    { selector: ':parent.gr-coresident', style: { 'border-color': '#a16207', 'background-color': '#fde68a' } },
    { selector: 'edge', style: {
      width: 1.5, 'line-color': muted, 'curve-style': 'bezier', 'target-arrow-shape': 'none', label: 'data(label)', 'font-size': 9, 'font-family': font,
      color: fg, 'text-rotation': 'autorotate', 'min-zoomed-font-size': 9, 'text-background-color': bg, 'text-background-opacity': 0.85,
      'text-background-padding': 1, 'text-wrap': 'ellipsis', 'text-max-width': 160,
    } },
    { selector: 'edge.alert', style: { 'target-arrow-shape': 'triangle', 'arrow-scale': 0.8, 'target-arrow-color': muted } },
    { selector: 'edge.s4', style: { 'line-color': '#b3261e', 'target-arrow-color': '#b3261e', width: 2.5 } },
    { selector: 'edge.s3', style: { 'line-color': '#c2410c', 'target-arrow-color': '#c2410c', width: 2 } },
    { selector: 'edge.own', style: { 'line-style': 'dotted', width: 1.2, 'line-color': muted } },
    { selector: '.faded', style: { opacity: 0.12, 'text-opacity': 0 } },
    { selector: ':parent.faded', style: { opacity: 0.35, 'text-opacity': 0.6 } },
    { selector: 'node.focused', style: { 'overlay-color': '#2563eb', 'overlay-opacity': 0.18, 'overlay-padding': 8 } },
    { selector: 'edge.near', style: { 'min-zoomed-font-size': 0, width: 3 } },
    { selector: 'node.near', style: { 'min-zoomed-font-size': 0 } },
    { selector: 'node:selected', style: { 'overlay-color': '#2563eb', 'overlay-opacity': 0.25 } },
  ];
}

function loadPositions(key) {
  try { return JSON.parse(sessionStorage.getItem(POS_KEY + key) || 'null'); } catch { return null; }
}
function savePositions(cy, key) {
  const pos = {};
  cy.nodes().forEach((n) => { if (!n.isParent()) { const p = n.position(); pos[n.id()] = [Math.round(p.x), Math.round(p.y)]; } });
  try { sessionStorage.setItem(POS_KEY + key, JSON.stringify({ pos, zoom: cy.zoom(), pan: cy.pan() })); } catch { /* quota */ }
}

function legendSwatch(shape, cls) {
  const s = { circle: el('circle', { cx: 9, cy: 9, r: 7 }), rect: el('rect', { x: 2, y: 4, width: 14, height: 10, rx: 3 }), square: el('rect', { x: 2, y: 4, width: 14, height: 10 }),
    hex: el('polygon', { points: '5,2 13,2 17,9 13,16 5,16 1,9' }), diamond: el('polygon', { points: '9,1 17,9 9,17 1,9' }),
    tri: el('polygon', { points: '9,2 17,16 1,16' }), oct: el('polygon', { points: '6,1 12,1 17,6 17,12 12,17 6,17 1,12 1,6' }),
    barrel: el('rect', { x: 1, y: 4, width: 16, height: 10, rx: 5 }), cut: el('polygon', { points: '4,3 14,3 17,6 17,15 1,15 1,6' }),
    line: el('line', { x1: 1, y1: 9, x2: 17, y2: 9 }) }[shape];
  return el('svg', { class: `lg ${cls}`, viewBox: '0 0 18 18', width: 18, height: 18, 'aria-hidden': 'true', focusable: 'false' }, s);
}

function legend() {
  const item = (shape, cls, key) => el('li', {}, legendSwatch(shape, cls), el('span', {}, t(key)));
  return el('section', { class: 'graph-legend', 'aria-label': t('graph.legend') },
    el('h4', {}, t('graph.legend')),
    el('ul', {},
      item('oct', 'lg-actor', 'graph.lg.actor'), item('rect', 'lg-victim', 'graph.lg.victim'), item('rect', 'lg-coresident', 'graph.lg.coresident'),
      item('rect', 'lg-tenant', 'graph.lg.tenant'), item('rect', 'lg-blast', 'graph.lg.blast'), item('circle', 'lg-context', 'graph.lg.context'),
      item('square', 'lg-host', 'graph.lg.host'), item('circle', 'lg-vm', 'graph.lg.vm'), item('hex', 'lg-container', 'graph.lg.container'),
      item('diamond', 'lg-process', 'graph.lg.process'), item('tri', 'lg-account', 'graph.lg.account'), item('barrel', 'lg-ip', 'graph.lg.ip'),
      item('cut', 'lg-resource', 'graph.lg.resource'), item('line', 'lg-alert', 'graph.lg.alert'), item('line', 'lg-own', 'graph.lg.own'),
      item('rect', 'lg-hostgrp', 'graph.lg.hostgrp'), item('rect', 'lg-tenantgrp', 'graph.lg.tenantgrp')));
}

/**
 * Draw the graph into `container` (emptied). Options:
 *   placements  Map host → {vms, containers} (GET /hosts/{id}), for co-residency and grouping
 *   links       fn(nodeData) → href or null (tenant/host pages)
 *   onAlert     fn(alertId): show that alert (the page's own row)
 * Returns {destroy(), focus(id), reset()}.
 */
export async function entityGraph(container, incident, { placements = new Map(), links = () => null, onAlert = null } = {}) {
  const incId = incident.id;
  let mode = (() => { try { return sessionStorage.getItem(MODE_KEY) || 'host'; } catch { return 'host'; } })();
  if (!['host', 'tenant', 'none'].includes(mode)) mode = 'host';
  let built = buildElements(incident, placements, mode);
  let cy = null;
  let focused = null;
  let saveTimer = null;
  const posKey = () => `${incId}.${mode}`;

  const canvas = el('div', { class: 'graph-canvas', tabindex: '0', role: 'img' });
  const detail = el('div', { class: 'graph-detail', 'aria-live': 'polite' }, el('p', { class: 'muted' }, t('graph.sel.none')));
  const status = el('p', { class: 'graph-status muted small' });
  const findInput = el('input', { type: 'search', id: `gfind-${incId}`, placeholder: t('graph.find.ph'), list: `gfind-list-${incId}`, autocomplete: 'off' });
  const datalist = el('datalist', { id: `gfind-list-${incId}` });
  const modeSel = el('select', { id: `gmode-${incId}` },
    ['host', 'tenant', 'none'].map((m) => el('option', { value: m, selected: m === mode }, t(`graph.group.${m}`))));
  const listBox = el('div', { class: 'graph-list-body' });
  const listSummary = el('summary', {});
  const toolbar = el('div', { class: 'graph-toolbar', role: 'toolbar', 'aria-label': t('graph.title') },
    el('label', { for: `gmode-${incId}` }, t('graph.group')), modeSel,
    el('button', { type: 'button', class: 'btn small', onclick: () => cy && cy.fit(undefined, 30) }, t('graph.fit')),
    el('button', { type: 'button', class: 'btn small', onclick: () => reset() }, t('graph.reset')),
    el('button', { type: 'button', class: 'btn small', onclick: () => relayout(true) }, t('graph.relayout')),
    el('form', { class: 'graph-find', role: 'search', onsubmit: (e) => { e.preventDefault(); find(findInput.value); } },
      el('label', { for: `gfind-${incId}` }, t('graph.find')), findInput, datalist));
  mount(container,
    toolbar,
    el('div', { class: 'graph-body' }, canvas, el('aside', { class: 'graph-side' }, detail, legend())),
    status,
    el('p', { class: 'muted small' }, t('graph.hint')),
    el('details', { class: 'graph-list' }, listSummary, listBox));

  function describe() {
    const r = built.roles;
    const j = (a) => (a.length ? a.join(', ') : t('graph.none'));
    canvas.setAttribute('aria-label', t('graph.aria', { n: built.nodes.length, e: built.edgeCount, a: j(r.actors), v: j(r.victims), c: j(r.coresident) }));
  }

  function renderList() {
    listSummary.textContent = t('graph.list', { n: built.nodes.length });
    const byType = new Map();
    for (const n of built.nodes) { const k = TYPES.includes(n.type) ? n.type : 'other'; if (!byType.has(k)) byType.set(k, []); byType.get(k).push(n); }
    const blocks = [];
    for (const k of [...TYPES, 'other']) {
      const list = byType.get(k);
      if (!list) continue;
      list.sort((a, b) => a.label.localeCompare(b.label));
      blocks.push(el('div', { class: 'graph-list-type' }, el('h5', {}, `${t(`graph.type.${k}`)} (${list.length})`),
        el('ul', {}, list.map((n) => {
          const cls = (built.elements.find((x) => x.data.id === n.id) || {}).classes || '';
          const role = /r-(actor|victim|coresident)/.exec(cls);
          return el('li', {}, el('button', { type: 'button', class: 'linklike', onclick: () => focus(n.id, true) }, n.label),
            role ? el('span', { class: `tag tag-${role[1]}` }, t(`graph.role.${role[1]}`)) : null,
            / blast/.test(` ${cls}`) && !role ? el('span', { class: 'tag tag-blast' }, t('graph.role.blast')) : null);
        }))));
    }
    mount(listBox, blocks);
    mount(datalist, built.nodes.map((n) => el('option', { value: n.label })));
  }

  function showDetail(node) {
    if (!node) { mount(detail, el('p', { class: 'muted' }, t('graph.sel.none'))); return; }
    const d = node.data();
    const edges = node.connectedEdges('.alert');
    const alerts = new Map();
    edges.forEach((e) => e.data('alerts').forEach((a, i) => alerts.set(a, e.data('detectors')[Math.min(i, e.data('detectors').length - 1)])));
    const href = links(d);
    const role = /r-(actor|victim|coresident)/.exec(node.classes().join(' '));
    mount(detail,
      el('h4', {}, `${t(`graph.type.${TYPES.includes(d.type) ? d.type : 'other'}`)}: `, el('span', { class: 'mono' }, d.full || d.label)),
      role ? el('p', {}, el('span', { class: `tag tag-${role[1]}` }, t(`graph.role.${role[1]}`))) : null,
      node.hasClass('blast') && !role ? el('p', {}, el('span', { class: 'tag tag-blast' }, t('graph.role.blast'))) : null,
      href ? el('p', {}, el('a', { href }, `${t('graph.sel.open')} →`)) : null,
      el('p', { class: 'small muted' }, t('graph.sel.neigh', { n: node.neighborhood('node').length })),
      alerts.size ? el('div', {}, el('h5', {}, t('graph.sel.alerts')),
        el('ul', { class: 'graph-alerts' }, [...new Set(edges.map((e) => e.data('detectors')).flat())].sort().map((det) => {
          const ids = edges.filter((e) => e.data('detectors').includes(det)).map((e) => e.data('alerts')).flat();
          const uniq = [...new Set(ids)];
          return el('li', {}, el('span', { class: 'mono' }, det), ' ',
            uniq.slice(0, 3).map((a) => (onAlert ? [el('button', { type: 'button', class: 'linklike mono small', title: a, onclick: () => onAlert(a) }, a.slice(0, 8)), ' '] : el('span', { class: 'mono small', title: a }, `${a.slice(0, 8)} `))));
        }))) : null);
  }

  function reset() {
    focused = null;
    if (!cy) return;
    cy.elements().removeClass('faded near focused');
    showDetail(null);
  }

  function focus(id, fit = false) {
    if (!cy) return;
    const node = cy.getElementById(id);
    if (!node || node.empty()) return;
    focused = id;
    cy.elements().removeClass('focused near');
    let keep;
    if (node.isParent()) {
      const kids = node.descendants();
      keep = kids.union(kids.neighborhood()).union(node);
    } else {
      keep = node.closedNeighborhood();
      node.addClass('focused');
    }
    keep = keep.union(keep.nodes().ancestors());
    keep.addClass('near');
    cy.elements().not(keep).addClass('faded');
    keep.removeClass('faded');
    if (!node.isParent()) showDetail(node);
    if (fit) cy.fit(keep, 40);
  }

  function find(q) {
    const s = String(q || '').trim().toLowerCase();
    if (!s || !cy) return;
    const hit = built.nodes.find((n) => n.label.toLowerCase() === s) || built.nodes.find((n) => n.id.toLowerCase().includes(s) || n.label.toLowerCase().includes(s));
    if (hit) focus(hit.id, true);
  }

  function scheduleSave() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => { if (cy) savePositions(cy, posKey()); }, 250);
  }

  function relayout(force) {
    if (!cy) return;
    const cached = force ? null : loadPositions(posKey());
    const leaves = cy.nodes().filter((n) => !n.isParent());
    const known = cached ? leaves.filter((n) => cached.pos[n.id()]) : cy.collection();
    if (cached && known.length === leaves.length) {
      cy.layout({ name: 'preset', positions: (n) => { const p = cached.pos[n.id()]; return { x: p[0], y: p[1] }; }, fit: false }).run();
      if (cached.zoom && cached.pan) { cy.zoom(cached.zoom); cy.pan(cached.pan); } else cy.fit(undefined, 30);
      status.textContent = '';
      return;
    }
    const n = leaves.length;
    let layout;
    if (mode !== 'none') {
      const pos = structuredPositions(built.elements);
      if (cached) known.forEach((x) => { const p = cached.pos[x.id()]; pos[x.id()] = { x: p[0], y: p[1] }; });
      layout = cy.layout({ name: 'preset', positions: (nd) => pos[nd.id()] || { x: 0, y: 0 }, fit: true, padding: 24 });
    } else {
      if (cached) known.forEach((x) => { const p = cached.pos[x.id()]; x.position({ x: p[0], y: p[1] }); });
      layout = cy.layout({
        name: 'cose', animate: false, randomize: !(cached && known.length), fit: true, padding: 24,
        nodeDimensionsIncludeLabels: true, componentSpacing: 40, gravity: 1.2, nodeOverlap: 12,
        idealEdgeLength: () => (n > 150 ? 32 : 48), nodeRepulsion: () => (n > 150 ? 3000 : 5000), edgeElasticity: () => 120,
        numIter: n > 250 ? 700 : 1500, randomSeed: 7,
      });
    }
    layout.one('layoutstop', () => { savePositions(cy, posKey()); });
    layout.run();
  }

  function build() {
    if (cy) { cy.destroy(); cy = null; }
    built = buildElements(incident, placements, mode);
    describe();
    renderList();
    if (!built.nodes.length) { status.textContent = t('graph.empty'); return; }
    cy = cyFactory({
      container: canvas, elements: built.elements, style: stylesheet(),
      minZoom: 0.08, maxZoom: 4, boxSelectionEnabled: false, autoungrabify: false,
    });
    relayout(false);
    cy.on('tap', 'node', (e) => focus(e.target.id(), false));
    cy.on('tap', (e) => { if (e.target === cy) reset(); });
    cy.on('dragfree', 'node', scheduleSave);
    cy.on('viewport', scheduleSave);
    cy.on('mouseover', 'node, edge', (e) => { canvas.title = e.target.isNode() ? (e.target.data('full') || e.target.data('label')) : (e.target.data('detectors') || []).join(', '); });
  }

  canvas.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { reset(); e.preventDefault(); }
    if ((e.key === '+' || e.key === '=') && cy) { cy.zoom({ level: cy.zoom() * 1.2, renderedPosition: { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 } }); }
    if (e.key === '-' && cy) { cy.zoom({ level: cy.zoom() / 1.2, renderedPosition: { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 } }); }
    if (e.key === '0' && cy) cy.fit(undefined, 30);
  });
  modeSel.addEventListener('change', () => {
    mode = modeSel.value;
    try { sessionStorage.setItem(MODE_KEY, mode); } catch { /* ignore */ }
    const was = focused;
    build();
    if (was) focus(was, false);
  });
  const onTheme = () => { if (cy) cy.style(stylesheet()); };
  window.addEventListener('fenghuo:theme', onTheme);

  describe();
  renderList();
  let cyFactory;
  status.textContent = t('graph.loading');
  try {
    cyFactory = await loadCytoscape();
    status.textContent = '';
    build();
  } catch (e) {
    status.textContent = t('graph.unavailable', { e: String((e && e.message) || e) });
    status.classList.add('problem');
  }
  return {
    focus: (id) => focus(id, true),
    reset,
    destroy() {
      window.removeEventListener('fenghuo:theme', onTheme);
      clearTimeout(saveTimer);
      if (cy) { savePositions(cy, posKey()); cy.destroy(); cy = null; }
    },
  };
}
