// Incidents list (#/incidents?severity=&status=&tenant=&host=&q=&not_tenant=…; as the alert queue:
// "filter for / out" a value of a row, removable chips, the keys j/k, Enter, /, ?) — and small
// helpers the incident, tenant, host, detector and report views share (named exports).
import { el, mount, timeEl, severityBadge, severityLabel, gradeBadge, statusLabel, fmtDuration, SEVERITIES } from '../format.js';
import { t, lang, register } from '../i18n.js';
import { filterFor, filterOut, removeValue, activeFilters, shownValue, valueButtons, filterChip } from '../filters.js';

// ---------- shared helpers ----------

const SHARED = {
  zh: {
    'cd.left': '剩余 {d}', 'cd.over': '已逾期 {d}', 'cd.none': '无期限', 'cd.aria.left': '距截止还有 {d}', 'cd.aria.over': '已超过截止时间 {d}',
    'common.loadmore': '加载更多', 'common.loading': '加载中…', 'common.none': '无', 'common.empty': '没有符合条件的记录。',
    'common.updates': '有 {n} 条新的变更', 'common.reload': '刷新', 'common.yes': '是', 'common.no': '否',
    'al.col.time': '证据时间', 'al.col.sev': '严重性', 'al.col.detector': '检测器', 'al.col.title': '告警', 'al.col.tenants': '受害方 ← 攻击方', 'al.col.where': '位置', 'al.col.status': '状态',
    'common.section.error': '此部分未能加载', 'common.copy': '复制', 'common.all': '全部',
    'cat.01': '恶意程序事件', 'cat.02': '网络攻击事件', 'cat.03': '数据安全事件', 'cat.04': '信息内容安全事件', 'cat.05': '设备设施故障事件',
    'cat.06': '违规操作事件', 'cat.07': '安全隐患事件', 'cat.08': '异常行为事件', 'cat.09': '不可抗力事件', 'cat.10': '其他事件',
  },
  en: {
    'cd.left': '{d} left', 'cd.over': 'overdue by {d}', 'cd.none': 'no deadline', 'cd.aria.left': '{d} until the deadline', 'cd.aria.over': 'deadline passed {d} ago',
    'common.loadmore': 'Load more', 'common.loading': 'Loading…', 'common.none': 'none', 'common.empty': 'Nothing matches.',
    'common.updates': '{n} new changes', 'common.reload': 'Reload', 'common.yes': 'yes', 'common.no': 'no',
    'al.col.time': 'Evidence time', 'al.col.sev': 'Severity', 'al.col.detector': 'Detector', 'al.col.title': 'Alert', 'al.col.tenants': 'Victim ← actor', 'al.col.where': 'Where', 'al.col.status': 'Status',
    'common.section.error': 'This part could not be loaded', 'common.copy': 'Copy', 'common.all': 'All',
    'cat.01': 'Malicious program', 'cat.02': 'Cyber attack', 'cat.03': 'Data security', 'cat.04': 'Information content security', 'cat.05': 'Equipment or facility failure',
    'cat.06': 'Violation of operating rules', 'cat.07': 'Security hazard', 'cat.08': 'Abnormal behaviour', 'cat.09': 'Force majeure', 'cat.10': 'Other',
  },
};
register(SHARED);

let skew = 0; // server clock − browser clock, from answers that carry `now`
/** Note the server's `now` (GET /reports answers carry it) so countdowns follow the server's clock. */
export function noteServerNow(iso) {
  const d = Date.parse(iso);
  if (!Number.isNaN(d)) skew = d - Date.now();
}
export function serverNow() { return Date.now() + skew; }

function tick(node) {
  const due = Date.parse(node.dataset.due);
  if (Number.isNaN(due)) return;
  const left = due - serverNow();
  const d = fmtDuration(Math.abs(left));
  const over = left < 0;
  node.classList.toggle('cd-over', over);
  node.classList.toggle('cd-soon', !over && left < 15 * 60 * 1000);
  const text = t(over ? 'cd.over' : 'cd.left', { d });
  if (node.firstChild && node.firstChild.textContent !== text) node.firstChild.textContent = text;
  node.setAttribute('aria-label', t(over ? 'cd.aria.over' : 'cd.aria.left', { d }));
}
let ticker = null;
function ensureTicker() {
  if (ticker) return;
  ticker = setInterval(() => {
    const nodes = document.querySelectorAll('.countdown[data-due]');
    if (!nodes.length) { clearInterval(ticker); ticker = null; return; }
    nodes.forEach(tick);
  }, 1000);
}
/** A live countdown to an RFC 3339 deadline ("0:42:10 left" / "overdue by 1:02:03"); the exact
 * deadline in the user's zone (UTC on hover) beside it when `withTime`. */
export function countdown(iso, { withTime = false, done = false } = {}) {
  if (!iso) return el('span', { class: 'countdown-none muted' }, t('cd.none'));
  if (done) return timeEl(iso);
  const node = el('span', { class: 'countdown', dataset: { due: iso } }, el('span', {}, ''));
  tick(node);
  ensureTicker();
  return withTime ? el('span', { class: 'deadline' }, node, ' ', el('span', { class: 'muted small' }, '(', timeEl(iso), ')')) : node;
}

export function categoryLabel(code) {
  if (!code) return '—';
  const k = `cat.${code}`;
  const name = t(k);
  return name === k ? code : `${code} ${name}`;
}

const enc = encodeURIComponent;
export function tenantLink(id, extra) {
  return el('a', { href: `#/tenants/${enc(id)}`, class: `chip chip-tenant ${extra || ''}`.trim() }, id);
}
export function hostLink(id) { return el('a', { href: `#/hosts/${enc(id)}`, class: 'chip chip-host' }, id); }
export function incidentHref(id) { return `#/incidents/${enc(id)}`; }
export function alertHref(id) { return `#/alerts/${enc(id)}`; }

/** Roles that may triage and edit reports (the API decides; this only hides dead buttons). */
export function canTriage(s) { return Boolean(s && (s.role === 'admin' || s.role === 'soc_analyst')); }

/** A section that loads on its own and shows the API's error honestly in place. */
export async function section(node, ctx, load) {
  mount(node, el('p', { class: 'muted' }, t('common.loading')));
  try {
    await load(node);
  } catch (err) {
    if (err && err.name === 'AbortError') return;
    console.warn(err);
    mount(node, ctx.errorBox(err, () => section(node, ctx, load)));
  }
}

const asIs = (key, value, node) => node;

/** The incident's tenants, attackers first; `value(key, value, node)` may wrap each one. */
export function tenantsCell(inc, value = asIs) {
  const actors = new Set(inc.actor_tenants || []);
  return el('span', { class: 'chips' },
    (inc.actor_tenants || []).map((x) => value('tenant', x, tenantLink(x, 'chip-actor'))),
    (inc.tenants || []).filter((x) => !actors.has(x)).map((x) => value('tenant', x, tenantLink(x, 'chip-victim'))));
}

export function statusBadge(s) { return el('span', { class: `status status-${s}` }, statusLabel(s)); }

const CLOSED = new Set(['resolved', 'false_positive']);
export function incidentDeadline(inc) {
  const r = inc.reporting || {};
  if (!r.required) return el('span', { class: 'muted' }, '—');
  if (CLOSED.has(inc.status)) return timeEl(r.deadline);
  return countdown(r.deadline);
}

/** Incidents as a table; `value(key, value, node)` may wrap each severity, status, tenant and
 * host shown (the list adds its "filter for / out" buttons there). */
export function incidentTable(items, { caption, columns = ['sev', 'grade', 'title', 'tenants', 'hosts', 'status', 'last', 'deadline'], value = asIs } = {}) {
  const head = {
    sev: t('inc.col.sev'), grade: t('inc.col.grade'), title: t('inc.col.title'), tenants: t('inc.col.tenants'), hosts: t('inc.col.hosts'),
    status: t('inc.col.status'), last: t('inc.col.last'), deadline: t('inc.col.deadline'),
  };
  const cell = {
    sev: (i) => value('severity', i.severity, severityBadge(i.severity)),
    grade: (i) => gradeBadge(i.grade),
    title: (i) => el('span', {}, el('a', { href: incidentHref(i.id) }, i.title),
      (i.sequences || []).map((s) => el('span', { class: 'tag tag-seq' }, s))),
    tenants: (i) => tenantsCell(i, value),
    hosts: (i) => el('span', { class: 'chips' }, (i.hosts || []).map((h) => value('host', h, hostLink(h)))),
    status: (i, st) => el('span', {}, value('status', i.status, statusBadge(i.status)), st && st.assignee ? el('span', { class: 'muted small' }, ` → ${st.assignee}`) : null),
    last: (i) => timeEl(i.last_seen),
    deadline: (i) => incidentDeadline(i),
  };
  return el('div', { class: 'table-wrap' }, el('table', { class: 'data incidents' },
    caption ? el('caption', {}, caption) : null,
    el('thead', {}, el('tr', {}, columns.map((c) => el('th', { scope: 'col' }, head[c])))),
    el('tbody', {}, items.map((it) => {
      const inc = it.incident || it;
      return el('tr', { dataset: { id: inc.id, severity: inc.severity } }, columns.map((c) => el('td', { class: `c-${c}` }, cell[c](inc, it.state))));
    }))));
}

/** Alerts ({alert, state} items or bare alerts) as a table; ids link to the alert queue. */
export function alertTable(items) {
  return el('div', { class: 'table-wrap' }, el('table', { class: 'data alerts' },
    el('thead', {}, el('tr', {}, ['al.col.time', 'al.col.sev', 'al.col.detector', 'al.col.title', 'al.col.tenants', 'al.col.where', 'al.col.status']
      .map((k) => el('th', { scope: 'col' }, t(k))))),
    el('tbody', {}, items.map((it) => {
      const a = it.alert || it;
      const st = it.state || {};
      return el('tr', { dataset: { severity: a.severity } },
        el('td', {}, timeEl(a.first_seen)),
        el('td', {}, severityBadge(a.severity)),
        el('td', { class: 'mono small' }, a.detector),
        el('td', {}, el('a', { href: alertHref(a.id) }, a.title)),
        el('td', {}, a.tenant_id ? tenantLink(a.tenant_id, 'chip-victim') : '—', a.actor_tenant_id ? [' ← ', tenantLink(a.actor_tenant_id, 'chip-actor')] : null),
        el('td', {}, a.host_id ? hostLink(a.host_id) : '—', a.vm_id ? el('span', { class: 'mono small' }, ` ${a.vm_id}`) : null),
        el('td', {}, st.status ? statusBadge(st.status) : '—'));
    }))));
}

/** Severity counts {critical: 3, …} as compact text with glyphs (grey-scale readable). */
export function sevCounts(by) {
  return el('span', { class: 'sevcounts' }, SEVERITIES.map((k) => {
    const n = (by && by[k]) || 0;
    return el('span', { class: n ? `sc sc-${k}` : 'zero', title: t(`sev.${k}`) }, `${t(`sev.${k}`)} ${n}`);
  }));
}

export function riskBar(risk) {
  const v = Math.max(0, Math.min(100, Number(risk) || 0));
  const bar = el('span', { class: 'riskbar', 'aria-hidden': 'true' }, el('span', {}));
  bar.firstChild.style.width = `${v}%`;
  return el('span', { class: 'risk-cell' }, bar, el('span', { class: 'num' }, String(Math.round(v))));
}

// ---------- the list view ----------

const STATUSES = ['new', 'acknowledged', 'investigating', 'resolved', 'false_positive'];
const OPEN = ['new', 'acknowledged', 'investigating'];
// The list's filter (ui/js/filters.js): what GET /incidents takes. `status=open` in the URL stands
// for the open statuses (links from the tenant and host views use it).
const FIELDS = {
  list: ['severity', 'status', 'grade'],
  one: ['min_severity', 'tenant', 'host', 'since', 'until', 'q'],
  not: { severity: 'not_severity', status: 'not_status', tenant: 'not_tenant', host: 'not_host' },
};
const SEVERAL = '*'; // the option that keeps several selected values of a select as they are
const uniq = (xs) => [...new Set(xs)];
const openStatuses = (xs) => uniq(xs.flatMap((s) => (s === 'open' ? OPEN : [s])));

/** The API query of the filter in the URL `p`. */
function apiQuery(p) {
  const o = new URLSearchParams({ limit: '50' });
  for (const k of [...FIELDS.list, ...Object.values(FIELDS.not)]) (k === 'status' ? openStatuses(p.getAll(k)) : p.getAll(k)).forEach((v) => o.append(k, v));
  for (const k of FIELDS.one) if (p.get(k)) o.set(k, p.get(k));
  return o;
}

/** `status=open` spelled out, so that one of the open statuses can be filtered out. */
function expandOpen(np) {
  const st = np.getAll('status');
  if (!st.includes('open')) return;
  np.delete('status'); openStatuses(st).forEach((s) => np.append('status', s));
}

const shown = (field, value) => (field === 'status' && value === 'open' ? t('inc.f.open') : shownValue(field, value));

export default {
  id: 'incidents',
  pattern: /^#\/incidents\/?(?:\?.*)?$/,
  nav: { zh: '事件', en: 'Incidents' },
  roles: ['admin', 'soc_analyst', 'tenant_viewer'],
  messages: {
    zh: {
      'inc.title': '安全事件', 'inc.col.sev': '严重性', 'inc.col.grade': '分级', 'inc.col.title': '事件', 'inc.col.tenants': '攻击方 / 受害方',
      'inc.col.hosts': '宿主机', 'inc.col.status': '状态', 'inc.col.last': '最近证据', 'inc.col.deadline': '报告时限',
      'inc.f.severity': '严重性', 'inc.f.status': '状态', 'inc.f.grade': '分级', 'inc.f.tenant': '租户', 'inc.f.host': '宿主机', 'inc.f.q': '全文搜索',
      'inc.f.any': '全部', 'inc.f.open': '未关闭（新建/已确认/调查中）', 'inc.f.apply': '筛选', 'inc.f.clear': '清除',
      'inc.f.min_severity': '最低严重性', 'inc.f.since': '开始', 'inc.f.until': '结束', 'inc.f.several': '已选 {n} 项',
      'inc.for': '只看此值', 'inc.out': '排除此值', 'inc.chips': '当前筛选条件',
      'inc.not.chip': '{f}不是 {v}', 'inc.not.remove': '取消排除：{f} {v}', 'inc.chip.remove': '移除筛选条件：{f} {v}',
      'inc.f.legend': '筛选条件（保存在地址中，可分享）', 'inc.count': '已显示 {n} 个事件', 'inc.more': '还有更多',
      'inc.legend.chips': '红框 = 攻击方租户，橙框 = 受害租户',
      'inc.help': '快捷键 ?', 'inc.help.title': '键盘快捷键', 'inc.help.ok': '知道了',
      'inc.k.jk': '下一个 / 上一个事件', 'inc.k.enter': '打开所选事件', 'inc.k.slash': '全文搜索',
      'inc.k.esc': '关闭此对话框 / 离开输入框', 'inc.k.q': '显示此帮助',
    },
    en: {
      'inc.title': 'Incidents', 'inc.col.sev': 'Severity', 'inc.col.grade': 'Grade', 'inc.col.title': 'Incident', 'inc.col.tenants': 'Attacker / victims',
      'inc.col.hosts': 'Hosts', 'inc.col.status': 'Status', 'inc.col.last': 'Latest evidence', 'inc.col.deadline': 'Report due',
      'inc.f.severity': 'Severity', 'inc.f.status': 'Status', 'inc.f.grade': 'Grade', 'inc.f.tenant': 'Tenant', 'inc.f.host': 'Host', 'inc.f.q': 'Full text',
      'inc.f.any': 'Any', 'inc.f.open': 'Open (new, acknowledged, investigating)', 'inc.f.apply': 'Filter', 'inc.f.clear': 'Clear',
      'inc.f.min_severity': 'Minimum severity', 'inc.f.since': 'Since', 'inc.f.until': 'Until', 'inc.f.several': '{n} selected',
      'inc.for': 'Filter for this value', 'inc.out': 'Filter out this value', 'inc.chips': 'Active filter',
      'inc.not.chip': '{f} is not {v}', 'inc.not.remove': 'Stop excluding {f} {v}', 'inc.chip.remove': 'Remove filter {f} {v}',
      'inc.f.legend': 'Filters (kept in the address, shareable)', 'inc.count': '{n} incidents shown', 'inc.more': 'more available',
      'inc.legend.chips': 'red outline = attacker tenant, orange = victim tenant',
      'inc.help': 'Shortcuts ?', 'inc.help.title': 'Keyboard shortcuts', 'inc.help.ok': 'OK',
      'inc.k.jk': 'next / previous incident', 'inc.k.enter': 'open the selected incident', 'inc.k.slash': 'full-text search',
      'inc.k.esc': 'close this dialog / leave a field', 'inc.k.q': 'show this help',
    },
  },
  async render(root, match, ctx) {
    const p = ctx.params;
    const go = (np) => { const q = np.toString(); ctx.navigate(`#/incidents${q ? `?${q}` : ''}`); };
    const change = (fn) => { const np = new URLSearchParams(p); fn(np); go(np); };

    // "filter for / filter out this value" beside each severity, status, tenant and host of a row
    const value = (key, v, node) => {
      if (!v) return node;
      const name = shown(key, v);
      const act = (fn) => () => change((np) => { expandOpen(np); fn(FIELDS, np, key, v); });
      return el('span', { class: 'fvv' }, node, valueButtons({
        forLabel: `${t('inc.for')}: ${name}`, outLabel: `${t('inc.out')}: ${name}`, onFor: act(filterFor), onOut: act(filterOut),
      }));
    };

    // the filter form: the exclusions and other conditions of the URL are kept when it is applied
    const field = (name, label, control) => el('div', { class: 'field' }, el('label', { for: `if-${name}` }, label), control);
    const sel = (name, options) => {
      const vs = p.getAll(name);
      return el('select', { id: `if-${name}`, name },
        vs.length > 1 ? el('option', { value: SEVERAL, selected: true }, t('inc.f.several', { n: vs.length })) : null,
        options.map(([v, text]) => el('option', { value: v, selected: vs.length <= 1 && (vs[0] || '') === v }, text)));
    };
    const inp = (name, type = 'text', extra = {}) => el('input', { id: `if-${name}`, name, type, value: p.get(name) || '', autocomplete: 'off', ...extra });
    const form = el('form', { class: 'filters', role: 'search', 'aria-label': t('inc.f.legend') },
      field('severity', t('inc.f.severity'), sel('severity', [['', t('inc.f.any')], ...SEVERITIES.map((s) => [s, severityLabel(s)])])),
      field('status', t('inc.f.status'), sel('status', [['', t('inc.f.any')], ['open', t('inc.f.open')], ...STATUSES.map((s) => [s, statusLabel(s)])])),
      field('tenant', t('inc.f.tenant'), inp('tenant')),
      field('host', t('inc.f.host'), inp('host')),
      field('q', t('inc.f.q'), inp('q', 'search', { 'aria-keyshortcuts': '/' })),
      el('div', { class: 'field actions' },
        el('button', { type: 'submit', class: 'btn primary' }, t('inc.f.apply')),
        el('a', { class: 'btn ghost', href: '#/incidents' }, t('inc.f.clear'))));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const fd = new FormData(form);
      change((np) => {
        for (const k of ['severity', 'status', 'tenant', 'host', 'q']) {
          const v = String(fd.get(k) || '').trim();
          if (v === SEVERAL) continue;
          if (v) filterFor(FIELDS, np, k, v); else np.delete(k);
        }
      });
    });

    // every active condition as a removable chip; an exclusion reads "Tenant ≠ acme"
    const chips = el('div', { class: 'chips filter-chips', role: 'group', 'aria-label': t('inc.chips') },
      activeFilters(FIELDS, p, shown).map((c) => {
        const label = t(`inc.f.${c.field}`);
        return filterChip(c, {
          label, notText: t('inc.not.chip', { f: label, v: c.shown }),
          removeLabel: t(c.negated ? 'inc.not.remove' : 'inc.chip.remove', { f: label, v: c.shown }),
          onRemove: () => change((np) => removeValue(np, c.key, c.value)),
        });
      }));
    const banner = el('div', { class: 'live-banner', hidden: true, role: 'status' });
    const list = el('div', { class: 'incident-list' });
    const foot = el('div', { class: 'list-foot' });
    mount(root,
      el('div', { class: 'page-head' }, el('h1', {}, t('inc.title')),
        el('button', { type: 'button', class: 'btn small ghost', 'aria-keyshortcuts': '?', onclick: () => help() }, t('inc.help'))),
      form, chips, banner, list, foot,
      el('p', { class: 'muted small' }, t('inc.legend.chips')));

    const items = [];
    let cursor = null;
    const draw = () => {
      mount(list, items.length ? incidentTable(items, { value }) : el('p', { class: 'empty' }, t('common.empty')));
      mount(foot, el('span', { class: 'muted' }, t('inc.count', { n: items.length })),
        cursor ? el('button', { type: 'button', class: 'btn', onclick: more }, t('common.loadmore')) : null);
      showCursor(false);
    };

    // ---------- keyboard: j/k cursor, Enter opens, / searches, ? helps (as the alert queue) ----------
    let cur = -1;
    let dialog = null;
    const rows = () => [...list.querySelectorAll('tbody tr[data-id]')];
    function showCursor(move) {
      rows().forEach((tr, i) => {
        tr.classList.toggle('cursor', i === cur);
        tr.setAttribute('aria-selected', i === cur ? 'true' : 'false');
        if (i === cur && move) {
          const a = tr.querySelector('.c-title a');
          if (a) a.focus({ preventScroll: true });
          tr.scrollIntoView({ block: 'nearest' });
        }
      });
    }
    function moveCursor(d) {
      const n = rows().length;
      if (!n) return;
      cur = Math.max(0, Math.min(n - 1, cur + d));
      showCursor(true);
    }
    function closeDialog() { if (dialog) { dialog.remove(); dialog = null; } }
    function help() {
      closeDialog();
      const prev = document.activeElement;
      const k = (keys, label) => el('tr', {}, el('td', {}, keys.map((x) => [el('kbd', {}, x), ' '])), el('td', {}, t(label)));
      const ok = el('button', { type: 'button', class: 'btn', onclick: () => { closeDialog(); if (prev && prev.focus) prev.focus(); } }, t('inc.help.ok'));
      const box = el('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'inc-help-title' },
        el('h2', { id: 'inc-help-title' }, t('inc.help.title')),
        el('table', { class: 'keys' }, el('tbody', {},
          k(['j', 'k'], 'inc.k.jk'), k(['Enter'], 'inc.k.enter'), k(['/'], 'inc.k.slash'), k(['Esc'], 'inc.k.esc'), k(['?'], 'inc.k.q'))),
        el('div', { class: 'actions' }, ok));
      dialog = el('div', { class: 'dialog-backdrop', onclick: (e) => { if (e.target === dialog) closeDialog(); } }, box);
      dialog.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') { e.stopPropagation(); closeDialog(); if (prev && prev.focus) prev.focus(); }
        if (e.key === 'Tab') { e.preventDefault(); ok.focus(); } // the one control: focus stays inside
      });
      document.body.appendChild(dialog);
      ok.focus();
    }
    function onKey(e) {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
      const tag = (e.target.tagName || '').toLowerCase();
      const typing = tag === 'input' || tag === 'textarea' || tag === 'select' || e.target.isContentEditable;
      if (e.key === 'Escape') { if (dialog) closeDialog(); else if (typing) e.target.blur(); return; }
      if (typing || dialog) return;
      if (e.key === 'j') { e.preventDefault(); moveCursor(1); } else if (e.key === 'k') { e.preventDefault(); moveCursor(-1); } else if (e.key === '/') {
        e.preventDefault(); const q = form.querySelector('#if-q'); q.focus(); q.select();
      } else if (e.key === '?') { e.preventDefault(); help(); } else if (e.key === 'Enter' && cur >= 0 && !e.target.closest('button, a')) {
        const tr = rows()[cur];
        if (tr) { e.preventDefault(); ctx.navigate(incidentHref(tr.dataset.id)); }
      }
    }
    document.addEventListener('keydown', onKey);
    const cleanup = () => { document.removeEventListener('keydown', onKey); closeDialog(); };
    async function more() {
      const params = apiQuery(p); params.set('cursor', cursor);
      const page = await ctx.api('/incidents', { params });
      items.push(...page.items);
      cursor = page.next_cursor;
      draw();
    }
    mount(list, el('p', { class: 'muted' }, t('common.loading')));
    let page;
    try { page = await ctx.api('/incidents', { params: apiQuery(p) }); } catch (err) { cleanup(); throw err; }
    items.push(...page.items);
    cursor = page.next_cursor;
    draw();
    let n = 0;
    ctx.subscribe('incident', () => {
      n += 1;
      banner.hidden = false;
      mount(banner, t('common.updates', { n }), ' ', el('button', { type: 'button', class: 'btn small', onclick: () => ctx.navigate(location.hash) }, t('common.reload')));
    });
    void lang;
    return cleanup;
  },
};
