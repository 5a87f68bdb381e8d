// Tenants (#/tenants, #/tenants/ID): posture per tenant and its history, from GET /tenants.
import { el, mount, severityBadge, gradeBadge, fmtNumber } from '../format.js';
import { t } from '../i18n.js';
import { section, incidentTable, alertTable, sevCounts, riskBar, hostLink, tenantLink } from './incidents.js';

const enc = encodeURIComponent;
const OPEN = ['new', 'acknowledged', 'investigating'];

function kpi(label, value) {
  return el('div', { class: 'kpi-box' }, el('div', { class: 'v' }, value), el('div', { class: 'l' }, label));
}

async function list(root, ctx) {
  const res = await ctx.api('/tenants');
  const items = [...(res.items || [])].sort((a, b) => (b.incidents.risk - a.incidents.risk) || (b.alerts.total - a.alerts.total) || a.tenant_id.localeCompare(b.tenant_id));
  mount(root,
    el('div', { class: 'page-head' }, el('h1', {}, t('ten.title')), el('span', { class: 'muted' }, t('ten.sorted'))),
    items.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'data tenants' },
      el('thead', {}, el('tr', {},
        ['ten.col.tenant', 'ten.col.cii', 'ten.col.vms', 'ten.col.alerts', 'ten.col.bysev', 'ten.col.open', 'ten.col.sev', 'ten.col.grade', 'ten.col.risk']
          .map((k) => el('th', { scope: 'col', class: ['ten.col.vms', 'ten.col.alerts', 'ten.col.open'].includes(k) ? 'num' : null }, t(k))))),
      el('tbody', {}, items.map((x) => el('tr', {},
        el('td', {}, el('a', { href: `#/tenants/${enc(x.tenant_id)}` }, x.tenant_id), x.name && x.name !== x.tenant_id ? el('span', { class: 'muted small' }, ` ${x.name}`) : null),
        el('td', {}, x.critical_infrastructure ? el('span', { class: 'tag tag-cii' }, t('ten.cii')) : el('span', { class: 'muted' }, '—')),
        el('td', { class: 'num' }, fmtNumber(x.vms)),
        el('td', { class: 'num' }, el('a', { href: `#/alerts?tenant=${enc(x.tenant_id)}` }, fmtNumber(x.alerts.total))),
        el('td', {}, sevCounts(x.alerts.by_severity)),
        el('td', { class: 'num' }, el('a', { href: `#/incidents?tenant=${enc(x.tenant_id)}&status=open` }, fmtNumber(x.incidents.open_incidents))),
        el('td', {}, x.incidents.highest_severity ? severityBadge(x.incidents.highest_severity) : '—'),
        el('td', {}, x.incidents.highest_grade ? gradeBadge(x.incidents.highest_grade) : '—'),
        el('td', {}, riskBar(x.incidents.risk))))))) : el('p', { class: 'empty' }, t('ten.none')));
}

async function detail(root, ctx, id) {
  const x = await ctx.api(`/tenants/${enc(id)}`);
  const openBox = el('div', {});
  const histBox = el('div', {});
  const alertsBox = el('div', {});
  const hostsBox = el('div', {});
  mount(root,
    el('div', { class: 'page-head' }, el('p', {}, el('a', { href: '#/tenants' }, t('ten.back'))),
      el('h1', {}, x.tenant_id, x.name && x.name !== x.tenant_id ? el('span', { class: 'muted' }, ` · ${x.name}`) : null),
      x.critical_infrastructure ? el('span', { class: 'tag tag-cii' }, t('ten.cii.long')) : null),
    el('div', { class: 'kpis' },
      kpi(t('ten.col.vms'), fmtNumber(x.vms)),
      kpi(t('ten.col.alerts'), fmtNumber(x.alerts.total)),
      kpi(t('ten.col.open'), fmtNumber(x.incidents.open_incidents)),
      kpi(t('ten.col.sev'), x.incidents.highest_severity ? severityBadge(x.incidents.highest_severity) : '—'),
      kpi(t('ten.col.grade'), x.incidents.highest_grade ? gradeBadge(x.incidents.highest_grade) : '—'),
      kpi(t('ten.col.risk'), riskBar(x.incidents.risk))),
    el('section', { class: 'card' }, el('h2', {}, t('ten.bysev')), sevCounts(x.alerts.by_severity)),
    el('section', { class: 'card' }, el('h2', {}, t('ten.hosts')), hostsBox),
    el('section', { class: 'card' }, el('h2', {}, t('ten.open')), openBox),
    el('section', { class: 'card' }, el('h2', {}, t('ten.history')), histBox),
    el('section', { class: 'card' }, el('h2', {}, t('ten.alerts')), alertsBox));
  section(openBox, ctx, async () => {
    const r = await ctx.api('/incidents', { params: { tenant: id, status: OPEN, limit: 100 } });
    mount(openBox, r.items.length ? incidentTable(r.items) : el('p', { class: 'muted' }, t('ten.noOpen')));
  });
  section(histBox, ctx, async () => {
    const r = await ctx.api('/incidents', { params: { tenant: id, limit: 100 } });
    mount(histBox, r.items.length ? incidentTable(r.items) : el('p', { class: 'muted' }, t('common.empty')),
      r.next_cursor ? el('p', {}, el('a', { href: `#/incidents?tenant=${enc(id)}` }, t('ten.allIncidents'))) : null);
  });
  section(alertsBox, ctx, async () => {
    const r = await ctx.api('/alerts', { params: { tenant: id, limit: 50 } });
    mount(alertsBox, r.items.length ? alertTable(r.items) : el('p', { class: 'muted' }, t('common.empty')),
      el('p', {}, el('a', { href: `#/alerts?tenant=${enc(id)}` }, t('ten.allAlerts'))));
  });
  section(hostsBox, ctx, async () => {
    const r = await ctx.api('/hosts');
    const mine = (r.items || []).filter((h) => h.vms.some((v) => v.tenant_id === id) || h.containers.some((c) => c.tenant_id === id));
    mount(hostsBox, mine.length ? el('ul', { class: 'host-list' }, mine.map((h) => {
      const others = [...new Set([...h.vms, ...h.containers].map((w) => w.tenant_id).filter((o) => o !== id))];
      return el('li', {}, hostLink(h.host_id), ' ',
        el('span', { class: 'mono small' }, [...h.vms.filter((v) => v.tenant_id === id).map((v) => v.name), ...h.containers.filter((c) => c.tenant_id === id).map((c) => c.id)].join(', ')),
        others.length ? el('span', { class: 'small muted' }, ` · ${t('ten.sharedWith')} `, others.map((o) => [tenantLink(o), ' '])) : null);
    })) : el('p', { class: 'muted' }, t('ten.noHosts')));
  });
}

export default {
  id: 'tenants',
  pattern: /^#\/tenants(?:\/([^/?]+))?\/?(?:\?.*)?$/,
  nav: { zh: '租户', en: 'Tenants' },
  roles: ['admin', 'soc_analyst', 'tenant_viewer'],
  messages: {
    zh: {
      'ten.title': '租户态势', 'ten.sorted': '按风险排序', 'ten.back': '← 全部租户', 'ten.none': 'API 没有返回任何租户（无资产清单，或不在您的可见范围内）。',
      'ten.col.tenant': '租户', 'ten.col.cii': '关键信息基础设施', 'ten.col.vms': '虚拟机', 'ten.col.alerts': '告警', 'ten.col.bysev': '按严重性',
      'ten.col.open': '未关闭事件', 'ten.col.sev': '最高严重性', 'ten.col.grade': '最高分级', 'ten.col.risk': '风险',
      'ten.cii': 'CII', 'ten.cii.long': '关键信息基础设施运营者（报告时限 1 小时）', 'ten.bysev': '告警严重性分布',
      'ten.hosts': '所在宿主机与同宿主机租户', 'ten.open': '未关闭事件', 'ten.history': '事件历史（最近 100 个）', 'ten.alerts': '最近告警（50 条）',
      'ten.noOpen': '没有未关闭的事件。', 'ten.allIncidents': '在事件列表中查看全部', 'ten.allAlerts': '在告警队列中查看全部',
      'ten.sharedWith': '与以下租户共用：', 'ten.noHosts': '清单中该租户没有虚拟机或容器（或不在您的可见范围内）。',
    },
    en: {
      'ten.title': 'Tenant posture', 'ten.sorted': 'by risk', 'ten.back': '← All tenants', 'ten.none': 'The API returned no tenants (no inventory, or none you may see).',
      'ten.col.tenant': 'Tenant', 'ten.col.cii': 'Critical infrastructure', 'ten.col.vms': 'VMs', 'ten.col.alerts': 'Alerts', 'ten.col.bysev': 'By severity',
      'ten.col.open': 'Open incidents', 'ten.col.sev': 'Highest severity', 'ten.col.grade': 'Highest grade', 'ten.col.risk': 'Risk',
      'ten.cii': 'CII', 'ten.cii.long': 'Critical information infrastructure operator (1 h reporting deadline)', 'ten.bysev': 'Alerts by severity',
      'ten.hosts': 'Hosts it runs on, and who shares them', 'ten.open': 'Open incidents', 'ten.history': 'Incident history (latest 100)', 'ten.alerts': 'Latest alerts (50)',
      'ten.noOpen': 'No open incidents.', 'ten.allIncidents': 'All of them in the incident list', 'ten.allAlerts': 'All of them in the alert queue',
      'ten.sharedWith': 'shared with', 'ten.noHosts': 'No VMs or containers of this tenant in the inventory (or none you may see).',
    },
  },
  async render(root, match, ctx) {
    if (match[1]) await detail(root, ctx, decodeURIComponent(match[1]));
    else await list(root, ctx);
    return null;
  },
};
