// Hosts (#/hosts, #/hosts/ID): which tenants' VMs and containers share a host — the view for the
// minute after an escape — with the host's open incidents and alerts.
import { el, mount, severityBadge, gradeBadge, fmtNumber } from '../format.js';
import { t } from '../i18n.js';
import { section, incidentTable, alertTable, sevCounts, riskBar, tenantLink } from './incidents.js';

const enc = encodeURIComponent;
const OPEN = ['new', 'acknowledged', 'investigating'];

function tenantsOn(h) {
  const m = new Map();
  for (const v of h.vms || []) { if (!m.has(v.tenant_id)) m.set(v.tenant_id, { vms: [], containers: [] }); m.get(v.tenant_id).vms.push(v.name); }
  for (const c of h.containers || []) { if (!m.has(c.tenant_id)) m.set(c.tenant_id, { vms: [], containers: [] }); m.get(c.tenant_id).containers.push(c.id); }
  return m;
}

async function list(root, ctx) {
  const res = await ctx.api('/hosts');
  const items = [...(res.items || [])].sort((a, b) => (b.incidents.open_incidents - a.incidents.open_incidents) || (b.incidents.risk - a.incidents.risk) || (b.alerts.total - a.alerts.total) || a.host_id.localeCompare(b.host_id));
  mount(root,
    el('div', { class: 'page-head' }, el('h1', {}, t('hst.title')), el('span', { class: 'muted' }, t('hst.sorted'))),
    items.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'data hosts' },
      el('thead', {}, el('tr', {}, ['hst.col.host', 'hst.col.ip', 'hst.col.tenants', 'hst.col.vms', 'hst.col.containers', 'hst.col.alerts', 'hst.col.open', 'hst.col.grade', 'hst.col.risk']
        .map((k) => el('th', { scope: 'col', class: ['hst.col.vms', 'hst.col.containers', 'hst.col.alerts', 'hst.col.open'].includes(k) ? 'num' : null }, t(k))))),
      el('tbody', {}, items.map((h) => {
        const tn = [...tenantsOn(h).keys()].sort();
        return el('tr', { dataset: { host: h.host_id } },
          el('td', {}, el('a', { href: `#/hosts/${enc(h.host_id)}` }, h.host_id)),
          el('td', { class: 'mono small' }, h.ip || '—'),
          el('td', {}, el('span', { class: 'chips' }, tn.map((x) => tenantLink(x)))),
          el('td', { class: 'num' }, fmtNumber(h.vms.length)),
          el('td', { class: 'num' }, fmtNumber(h.containers.length)),
          el('td', { class: 'num' }, el('a', { href: `#/alerts?host=${enc(h.host_id)}` }, fmtNumber(h.alerts.total))),
          el('td', { class: 'num' }, h.incidents.open_incidents ? el('a', { href: `#/incidents?host=${enc(h.host_id)}&status=open` }, fmtNumber(h.incidents.open_incidents)) : '0'),
          el('td', {}, h.incidents.highest_grade ? gradeBadge(h.incidents.highest_grade) : '—'),
          el('td', {}, riskBar(h.incidents.risk)));
      })))) : el('p', { class: 'empty' }, t('hst.none')));
}

async function detail(root, ctx, id) {
  const h = await ctx.api(`/hosts/${enc(id)}`);
  const coBox = el('div', { class: 'coresidency' });
  const incBox = el('div', {});
  const alBox = el('div', {});
  mount(root,
    el('div', { class: 'page-head' }, el('p', {}, el('a', { href: '#/hosts' }, t('hst.back'))),
      el('h1', {}, `${t('hst.host')} ${h.host_id}`), el('span', { class: 'mono muted' }, h.ip || '')),
    el('div', { class: 'kpis' },
      el('div', { class: 'kpi-box' }, el('div', { class: 'v' }, fmtNumber(tenantsOn(h).size)), el('div', { class: 'l' }, t('hst.col.tenants'))),
      el('div', { class: 'kpi-box' }, el('div', { class: 'v' }, fmtNumber(h.vms.length)), el('div', { class: 'l' }, t('hst.col.vms'))),
      el('div', { class: 'kpi-box' }, el('div', { class: 'v' }, fmtNumber(h.containers.length)), el('div', { class: 'l' }, t('hst.col.containers'))),
      el('div', { class: 'kpi-box' }, el('div', { class: 'v' }, fmtNumber(h.alerts.total)), el('div', { class: 'l' }, t('hst.col.alerts'))),
      el('div', { class: 'kpi-box' }, el('div', { class: 'v' }, fmtNumber(h.incidents.open_incidents)), el('div', { class: 'l' }, t('hst.col.open'))),
      el('div', { class: 'kpi-box' }, el('div', { class: 'v' }, h.incidents.highest_severity ? severityBadge(h.incidents.highest_severity) : '—'), el('div', { class: 'l' }, t('hst.sev'))),
      el('div', { class: 'kpi-box' }, el('div', { class: 'v' }, h.incidents.highest_grade ? gradeBadge(h.incidents.highest_grade) : '—'), el('div', { class: 'l' }, t('hst.col.grade')))),
    el('section', { class: 'card' }, el('h2', {}, t('hst.co')), el('p', { class: 'muted small' }, t('hst.co.hint')), coBox),
    el('section', { class: 'card' }, el('h2', {}, t('hst.incidents')), incBox),
    el('section', { class: 'card' }, el('h2', {}, t('hst.alerts')), alBox),
    el('section', { class: 'card' }, el('h2', {}, t('hst.bysev')), sevCounts(h.alerts.by_severity)));

  // co-residency, with each tenant's part in the host's open incidents (the API's incidents)
  let roles = new Map();
  let openIncidents = [];
  try {
    const r = await ctx.api('/incidents', { params: { host: id, status: OPEN, limit: 100 } });
    openIncidents = r.items || [];
    for (const it of openIncidents) {
      const i = it.incident;
      for (const x of i.actor_tenants || []) roles.set(x, 'actor');
      for (const x of i.tenants || []) if (roles.get(x) !== 'actor') roles.set(x, 'victim');
      for (const x of (i.blast_radius && i.blast_radius.tenants) || []) if (!roles.has(x)) roles.set(x, 'coresident');
    }
  } catch (err) {
    roles = new Map();
    mount(incBox, ctx.errorBox(err));
  }
  const groups = [...tenantsOn(h)].sort((a, b) => {
    const rank = { actor: 0, victim: 1, coresident: 2 };
    return (rank[roles.get(a[0])] ?? 3) - (rank[roles.get(b[0])] ?? 3) || a[0].localeCompare(b[0]);
  });
  mount(coBox, groups.length ? groups.map(([tn, w]) => {
    const role = roles.get(tn);
    return el('div', { class: `tenant-box ${role ? `is-${role}` : ''}` },
      el('h3', {}, tenantLink(tn, role ? `chip-${role}` : ''), role ? el('span', { class: `tag tag-${role}` }, t(`graph.role.${role}`)) : null),
      w.vms.length ? [el('p', { class: 'small muted' }, t('hst.vms', { n: w.vms.length })), el('ul', {}, w.vms.sort().map((v) => el('li', { class: 'mono' }, v)))] : null,
      w.containers.length ? [el('p', { class: 'small muted' }, t('hst.containers', { n: w.containers.length })), el('ul', {}, w.containers.sort().map((c) => el('li', { class: 'mono' }, c)))] : null,
      el('p', { class: 'small' }, el('a', { href: `#/alerts?tenant=${enc(tn)}&host=${enc(id)}` }, t('hst.tenantAlerts'))));
  }) : el('p', { class: 'muted' }, t('hst.empty')));
  if (!incBox.firstChild) {
    mount(incBox, openIncidents.length ? incidentTable(openIncidents) : el('p', { class: 'muted' }, t('hst.noOpen')),
      el('p', {}, el('a', { href: `#/incidents?host=${enc(id)}` }, t('hst.allIncidents'))));
  }
  section(alBox, ctx, async () => {
    const r = await ctx.api('/alerts', { params: { host: id, limit: 50 } });
    mount(alBox, r.items.length ? alertTable(r.items) : el('p', { class: 'muted' }, t('common.empty')),
      el('p', {}, el('a', { href: `#/alerts?host=${enc(id)}` }, t('hst.allAlerts'))));
  });
}

export default {
  id: 'hosts',
  pattern: /^#\/hosts(?:\/([^/?]+))?\/?(?:\?.*)?$/,
  nav: { zh: '宿主机', en: 'Hosts' },
  roles: ['admin', 'soc_analyst', 'tenant_viewer'],
  messages: {
    zh: {
      'hst.title': '宿主机', 'hst.sorted': '按未关闭事件与风险排序', 'hst.back': '← 全部宿主机', 'hst.host': '宿主机', 'hst.none': 'API 没有返回任何宿主机（无资产清单，或不在您的可见范围内）。',
      'hst.col.host': '宿主机', 'hst.col.ip': '地址', 'hst.col.tenants': '租户', 'hst.col.vms': '虚拟机', 'hst.col.containers': '容器', 'hst.col.alerts': '告警',
      'hst.col.open': '未关闭事件', 'hst.col.grade': '最高分级', 'hst.col.risk': '风险', 'hst.sev': '最高严重性',
      'hst.co': '同宿主机的租户与工作负载', 'hst.co.hint': '逃逸发生后，这些租户的虚拟机与容器与攻击者共用同一宿主机。角色来自该宿主机上未关闭的事件。租户查看者只能看到自己的工作负载。',
      'hst.vms': '虚拟机（{n}）', 'hst.containers': '容器（{n}）', 'hst.tenantAlerts': '该租户在此宿主机的告警', 'hst.empty': '此宿主机上没有您可见的工作负载。',
      'hst.incidents': '此宿主机上未关闭的事件', 'hst.noOpen': '没有未关闭的事件。', 'hst.allIncidents': '此宿主机的全部事件',
      'hst.alerts': '此宿主机的最近告警（50 条）', 'hst.allAlerts': '在告警队列中查看全部', 'hst.bysev': '告警严重性分布',
    },
    en: {
      'hst.title': 'Hosts', 'hst.sorted': 'by open incidents and risk', 'hst.back': '← All hosts', 'hst.host': 'Host', 'hst.none': 'The API returned no hosts (no inventory, or none you may see).',
      'hst.col.host': 'Host', 'hst.col.ip': 'Address', 'hst.col.tenants': 'Tenants', 'hst.col.vms': 'VMs', 'hst.col.containers': 'Containers', 'hst.col.alerts': 'Alerts',
      'hst.col.open': 'Open incidents', 'hst.col.grade': 'Highest grade', 'hst.col.risk': 'Risk', 'hst.sev': 'Highest severity',
      'hst.co': 'Tenants and workloads sharing this host', 'hst.co.hint': 'After an escape, these tenants’ VMs and containers share the host with the attacker. Roles come from the open incidents on this host. A tenant viewer sees only its own workloads.',
      'hst.vms': 'VMs ({n})', 'hst.containers': 'Containers ({n})', 'hst.tenantAlerts': 'this tenant’s alerts on this host', 'hst.empty': 'No workloads on this host that you may see.',
      'hst.incidents': 'Open incidents on this host', 'hst.noOpen': 'No open incidents.', 'hst.allIncidents': 'All incidents on this host',
      'hst.alerts': 'Latest alerts on this host (50)', 'hst.allAlerts': 'All of them in the alert queue', 'hst.bysev': 'Alerts by severity',
    },
  },
  async render(root, match, ctx) {
    if (match[1]) await detail(root, ctx, decodeURIComponent(match[1]));
    else await list(root, ctx);
    return null;
  },
};
