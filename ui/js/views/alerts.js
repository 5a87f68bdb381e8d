// Alert queue: filters in the URL, saved filters, filter for/out, sort, keyboard triage,
// bulk triage on a selection or on everything matching the filter, export, detail drawer.
import { el, mount, timeEl, severityBadge, severityLabel, statusLabel, fmtNumber, SEVERITIES, severityRank } from '../format.js';
import { ApiError } from '../api.js';

const STATUSES = ['new', 'acknowledged', 'investigating', 'resolved', 'false_positive'];
const LIST_KEYS = ['severity', 'detector', 'status']; // repeatable, enumerable: "filter out" is expressible
const ONE_KEYS = ['tenant', 'host', 'since', 'until', 'q']; // single values: only "filter for"
const SAVED = 'fenghuo.alerts.saved';
const PAGE = 100;
const ACTION_KEYS = { a: 'acknowledge', r: 'resolve', f: 'false_positive' };

function apiParams(p) {
  const out = new URLSearchParams();
  for (const k of LIST_KEYS) for (const v of p.getAll(k)) out.append(k, v);
  for (const k of ONE_KEYS) if (p.get(k)) out.set(k, p.get(k));
  return out;
}
function uid() { return (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`); }
function rowAlert(item) { return item.alert ? item : { alert: item, state: item.state || {} }; }

function loadSaved() { try { return JSON.parse(localStorage.getItem(SAVED) || '[]'); } catch { return []; } }
function storeSaved(list) { localStorage.setItem(SAVED, JSON.stringify(list)); }

function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso); if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
function fromLocalInput(v) { if (!v) return ''; const d = new Date(v); return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.000Z$/, 'Z'); }

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: name, class: 'visually-hidden' }, name);
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}
function csvCell(v) {
  const s = v === null || v === undefined ? '' : Array.isArray(v) || typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${(/^[=+\-@]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"` : s;
}

const SORTS = {
  severity: (a, b) => severityRank(a.alert.severity) - severityRank(b.alert.severity),
  last_seen: (a, b) => String(a.alert.last_seen).localeCompare(String(b.alert.last_seen)),
  detector: (a, b) => String(a.alert.detector).localeCompare(String(b.alert.detector)),
  tenant: (a, b) => String(a.alert.tenant_id).localeCompare(String(b.alert.tenant_id)),
  host: (a, b) => String(a.alert.host_id || '').localeCompare(String(b.alert.host_id || '')),
  status: (a, b) => STATUSES.indexOf(a.state.status) - STATUSES.indexOf(b.state.status),
  title: (a, b) => String(a.alert.title).localeCompare(String(b.alert.title)),
};

export default {
  id: 'alerts',
  // `#/alerts/ID` (links from incidents, hosts, tenants) opens that alert's drawer over the queue.
  pattern: /^#\/alerts(?:\/([^/?]+))?(?:[?]|$)/,
  nav: { zh: '告警队列', en: 'Alerts' },
  roles: ['admin', 'soc_analyst', 'tenant_viewer'],
  messages: {
    zh: {
      'aq.title': '告警队列', 'aq.search': '全文搜索', 'aq.search.ph': '标题与摘要，所有词都需匹配（按 / 聚焦）',
      'aq.severity': '严重度', 'aq.detector': '检测器', 'aq.status': '状态', 'aq.tenant': '租户', 'aq.host': '宿主机', 'aq.since': '开始（证据结束不早于）', 'aq.until': '结束（证据开始早于）',
      'aq.any': '全部', 'aq.apply': '应用', 'aq.clear': '清除筛选', 'aq.range': '时间范围', 'aq.r1h': '近 1 小时', 'aq.r24h': '近 24 小时', 'aq.r7d': '近 7 天', 'aq.rall': '不限',
      'aq.saved': '已保存的筛选', 'aq.saved.pick': '选择已保存的筛选', 'aq.save': '保存当前筛选', 'aq.save.name': '筛选名称', 'aq.saved.del': '删除所选', 'aq.saved.none': '（无）',
      'aq.for': '只看此值', 'aq.out': '排除此值', 'aq.out.na': '接口不支持排除此字段（无否定条件）',
      'aq.col.title': '标题', 'aq.col.time': '最后出现', 'aq.col.sel': '选择', 'aq.sortby': '按{c}排序',
      'aq.loaded': '已加载 {n} 条', 'aq.more': '加载更多', 'aq.end': '已到末尾', 'aq.sortnote': '排序作用于已加载的告警；接口按时间倒序分页。',
      'aq.selected': '已选 {n} 条', 'aq.ack': '确认', 'aq.resolve': '解决', 'aq.fp': '误报', 'aq.assign': '指派…', 'aq.comment': '备注…', 'aq.suppress': '抑制相似…', 'aq.reopen': '重新打开', 'aq.investigate': '调查',
      'aq.allmatch': '对所有匹配项操作…', 'aq.export.csv': '导出 CSV', 'aq.export.json': '导出 JSON', 'aq.exporting': '正在导出 {n} 条…', 'aq.help': '快捷键 ?',
      'aq.nosel': '请先选择告警（x）或移动光标（j/k）。', 'aq.done': '{ok} 条成功，{bad} 条失败', 'aq.failed': '失败：{e}',
      'aq.bulk.title': '对当前筛选的全部告警操作', 'aq.bulk.counting': '正在按当前筛选（含时间范围）统计…', 'aq.bulk.count': '当前筛选匹配 {n} 条告警。操作只作用于下列条件：',
      'aq.bulk.nofilter': '（无筛选条件：所有可见告警）', 'aq.bulk.action': '操作', 'aq.bulk.confirm': '对 {n} 条执行', 'aq.bulk.cancel': '取消', 'aq.bulk.progress': '{i}/{n}',
      'aq.bulk.unbounded': '警告：没有时间范围——新到达的告警不会包含在内，只处理上面统计到的 {n} 条。',
      'aq.assignee': '指派给', 'aq.commentText': '备注', 'aq.untilLbl': '抑制到（留空：直到撤销）', 'aq.ok': '确定',
      'aq.help.title': '键盘快捷键', 'aq.k.jk': '下一条 / 上一条', 'aq.k.x': '选择 / 取消选择', 'aq.k.a': '确认', 'aq.k.r': '解决', 'aq.k.f': '标为误报', 'aq.k.slash': '搜索', 'aq.k.enter': '打开详情', 'aq.k.esc': '关闭详情 / 对话框', 'aq.k.q': '显示此帮助', 'aq.k.shiftx': '全选已加载 / 取消',
      'aq.d.summary': '摘要', 'aq.d.fields': '字段', 'aq.d.entities': '实体', 'aq.d.evidence': '证据（事件 ID）', 'aq.d.details': '详情', 'aq.d.log': '处置记录', 'aq.d.actions': '处置', 'aq.d.close': '关闭详情',
      'aq.d.nolog': '尚无处置记录。', 'aq.d.actor': '来源租户', 'aq.d.victim': '受害租户', 'aq.d.technique': 'ATT&CK', 'aq.d.category': 'GB/T 20986 类别', 'aq.d.confidence': '置信度', 'aq.d.first': '首次出现', 'aq.d.detected': '检测时间', 'aq.d.assignee': '负责人', 'aq.d.vm': '虚拟机',
      'aq.empty': '没有匹配的告警。', 'aq.readonly': '只读：该角色不能处置告警。',
    },
    en: {
      'aq.title': 'Alert queue', 'aq.search': 'Full-text search', 'aq.search.ph': 'title and summary, every word (press / to focus)',
      'aq.severity': 'Severity', 'aq.detector': 'Detector', 'aq.status': 'Status', 'aq.tenant': 'Tenant', 'aq.host': 'Host', 'aq.since': 'Since (evidence ends at/after)', 'aq.until': 'Until (evidence starts before)',
      'aq.any': 'Any', 'aq.apply': 'Apply', 'aq.clear': 'Clear filters', 'aq.range': 'Time range', 'aq.r1h': 'Last 1 h', 'aq.r24h': 'Last 24 h', 'aq.r7d': 'Last 7 d', 'aq.rall': 'Any time',
      'aq.saved': 'Saved filters', 'aq.saved.pick': 'Choose a saved filter', 'aq.save': 'Save this filter', 'aq.save.name': 'Filter name', 'aq.saved.del': 'Delete selected', 'aq.saved.none': '(none)',
      'aq.for': 'Filter for this value', 'aq.out': 'Filter out this value', 'aq.out.na': 'The API cannot exclude this field (no negation)',
      'aq.col.title': 'Title', 'aq.col.time': 'Last seen', 'aq.col.sel': 'Select', 'aq.sortby': 'Sort by {c}',
      'aq.loaded': '{n} loaded', 'aq.more': 'Load more', 'aq.end': 'End of list', 'aq.sortnote': 'Sorting orders the loaded alerts; the API pages newest first.',
      'aq.selected': '{n} selected', 'aq.ack': 'Acknowledge', 'aq.resolve': 'Resolve', 'aq.fp': 'False positive', 'aq.assign': 'Assign…', 'aq.comment': 'Comment…', 'aq.suppress': 'Suppress similar…', 'aq.reopen': 'Reopen', 'aq.investigate': 'Investigate',
      'aq.allmatch': 'Act on all matching…', 'aq.export.csv': 'Export CSV', 'aq.export.json': 'Export JSON', 'aq.exporting': 'Exporting {n}…', 'aq.help': 'Shortcuts ?',
      'aq.nosel': 'Select alerts first (x) or move the cursor (j/k).', 'aq.done': '{ok} done, {bad} failed', 'aq.failed': 'Failed: {e}',
      'aq.bulk.title': 'Act on every alert matching this filter', 'aq.bulk.counting': 'Counting with the filter shown (time range included)…', 'aq.bulk.count': '{n} alerts match the filter. The action applies to exactly these conditions:',
      'aq.bulk.nofilter': '(no filter: every alert you may see)', 'aq.bulk.action': 'Action', 'aq.bulk.confirm': 'Apply to {n}', 'aq.bulk.cancel': 'Cancel', 'aq.bulk.progress': '{i}/{n}',
      'aq.bulk.unbounded': 'Warning: no time range — alerts arriving now are not included; only the {n} counted above are acted on.',
      'aq.assignee': 'Assign to', 'aq.commentText': 'Comment', 'aq.untilLbl': 'Suppress until (empty: until revoked)', 'aq.ok': 'OK',
      'aq.help.title': 'Keyboard shortcuts', 'aq.k.jk': 'next / previous alert', 'aq.k.x': 'select / unselect', 'aq.k.a': 'acknowledge', 'aq.k.r': 'resolve', 'aq.k.f': 'false positive', 'aq.k.slash': 'search', 'aq.k.enter': 'open details', 'aq.k.esc': 'close details / dialog', 'aq.k.q': 'show this help', 'aq.k.shiftx': 'select all loaded / none',
      'aq.d.summary': 'Summary', 'aq.d.fields': 'Fields', 'aq.d.entities': 'Entities', 'aq.d.evidence': 'Evidence (event ids)', 'aq.d.details': 'Details', 'aq.d.log': 'Action log', 'aq.d.actions': 'Triage', 'aq.d.close': 'Close details',
      'aq.d.nolog': 'No actions yet.', 'aq.d.actor': 'Actor tenant', 'aq.d.victim': 'Victim tenant', 'aq.d.technique': 'ATT&CK', 'aq.d.category': 'GB/T 20986 category', 'aq.d.confidence': 'Confidence', 'aq.d.first': 'First seen', 'aq.d.detected': 'Detected', 'aq.d.assignee': 'Assignee', 'aq.d.vm': 'VM',
      'aq.empty': 'No alert matches.', 'aq.readonly': 'Read-only: this role may not triage.',
    },
  },

  async render(root, match, ctx) {
    const { api, t } = ctx;
    const p = ctx.params;
    const s = ctx.session() || {};
    const canTriage = s.can_triage !== undefined ? s.can_triage : ['admin', 'soc_analyst'].includes(s.role);
    let rows = []; let cursor = null; let cur = -1; const selected = new Set();
    let detectors = [];
    let drawer = null; let dialog = null; let destroyed = false;
    const sort = p.get('sort') || '';

    const go = (np) => { np.delete('cursor'); const q = np.toString(); ctx.navigate(`#/alerts${q ? `?${q}` : ''}`); };
    const withParam = (fn) => { const np = new URLSearchParams(p); fn(np); go(np); };

    function filterFor(key, value) {
      withParam((np) => { if (LIST_KEYS.includes(key)) { np.delete(key); np.append(key, value); } else np.set(key, value); });
    }
    function allValues(key) { return key === 'severity' ? SEVERITIES : key === 'status' ? STATUSES : detectors.map((d) => d.id); }
    function filterOut(key, value) {
      withParam((np) => {
        const present = np.getAll(key);
        const base = present.length ? present : allValues(key);
        np.delete(key);
        base.filter((v) => v !== value).forEach((v) => np.append(key, v));
        if (!np.getAll(key).length) np.append(key, '__none__');
      });
    }
    function fv(key, value) {
      if (value === null || value === undefined || value === '') return null;
      const canOut = LIST_KEYS.includes(key) && (key !== 'detector' || detectors.length);
      return el('span', { class: 'fv' },
        el('button', { type: 'button', title: `${t('aq.for')}: ${value}`, 'aria-label': `${t('aq.for')}: ${value}`, onclick: (e) => { e.stopPropagation(); filterFor(key, value); } }, '+'),
        el('button', { type: 'button', title: canOut ? `${t('aq.out')}: ${value}` : t('aq.out.na'), 'aria-label': `${t('aq.out')}: ${value}`, disabled: !canOut, onclick: (e) => { e.stopPropagation(); filterOut(key, value); } }, '−'));
    }
    const cell = (key, value, content) => el('span', { class: 'cellv' }, el('span', { class: 'v' }, content ?? value ?? '—'), fv(key, value));

    // ---------- filter form ----------
    const qInput = el('input', { id: 'aq-q', class: 'input', type: 'search', value: p.get('q') || '', placeholder: t('aq.search.ph'), 'aria-keyshortcuts': '/' });
    const multi = (key, values, label, lab) => el('div', { class: 'field' }, el('label', { for: `aq-${key}` }, label),
      el('select', { id: `aq-${key}`, class: 'input', onchange: (e) => withParam((np) => { np.delete(key); if (e.target.value) np.append(key, e.target.value); }) },
        el('option', { value: '' }, p.getAll(key).length > 1 ? `${p.getAll(key).length} ✓` : t('aq.any')),
        values.map((v) => el('option', { value: v, selected: p.getAll(key).length === 1 && p.get(key) === v }, lab ? lab(v) : v))));
    const detSelect = el('div', { class: 'field' });
    const text = (key, label) => el('div', { class: 'field' }, el('label', { for: `aq-${key}` }, label),
      el('input', { id: `aq-${key}`, class: 'input', value: p.get(key) || '', size: 10, onchange: (e) => withParam((np) => { if (e.target.value.trim()) np.set(key, e.target.value.trim()); else np.delete(key); }) }));
    const time = (key, label) => el('div', { class: 'field' }, el('label', { for: `aq-${key}` }, label),
      el('input', { id: `aq-${key}`, class: 'input', type: 'datetime-local', value: toLocalInput(p.get(key)), onchange: (e) => withParam((np) => { const v = fromLocalInput(e.target.value); if (v) np.set(key, v); else np.delete(key); }) }));
    const preset = (label, ms) => el('button', { type: 'button', class: 'btn small', onclick: () => withParam((np) => {
      np.delete('until'); if (ms) np.set('since', new Date(Date.now() - ms).toISOString().replace(/\.\d+Z$/, 'Z')); else np.delete('since');
    }) }, label);
    const form = el('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); withParam((np) => { const v = qInput.value.trim(); if (v) np.set('q', v); else np.delete('q'); }); } },
      el('div', { class: 'field q' }, el('label', { for: 'aq-q' }, t('aq.search')), qInput),
      multi('severity', SEVERITIES, t('aq.severity'), severityLabel),
      detSelect,
      multi('status', STATUSES, t('aq.status'), statusLabel),
      text('tenant', t('aq.tenant')), text('host', t('aq.host')),
      time('since', t('aq.since')), time('until', t('aq.until')),
      el('div', { class: 'field' }, el('span', { class: 'small muted', id: 'aq-range-l' }, t('aq.range')),
        el('div', { class: 'row gap', role: 'group', 'aria-labelledby': 'aq-range-l' }, preset(t('aq.r1h'), 3600e3), preset(t('aq.r24h'), 86400e3), preset(t('aq.r7d'), 7 * 86400e3), preset(t('aq.rall'), 0))),
      el('button', { type: 'submit', class: 'btn primary' }, t('aq.apply')));

    // active filter chips
    const chips = el('div', { class: 'chips', 'aria-label': t('aq.title') });
    const drawChips = () => {
      const list = [];
      for (const k of [...LIST_KEYS, ...ONE_KEYS]) for (const v of p.getAll(k)) {
        const shown = k === 'severity' ? severityLabel(v) : k === 'status' ? statusLabel(v) : (k === 'since' || k === 'until') ? new Date(v).toLocaleString() : v;
        list.push(el('span', { class: 'chip' }, `${t(`aq.${k === 'q' ? 'search' : k}`)}: ${shown}`,
          el('button', { type: 'button', 'aria-label': `✕ ${k} ${v}`, onclick: () => withParam((np) => { const rest = np.getAll(k).filter((x) => x !== v); np.delete(k); rest.forEach((x) => np.append(k, x)); }) }, '✕')));
      }
      if (list.length) list.push(el('button', { type: 'button', class: 'btn small ghost', onclick: () => go(new URLSearchParams()) }, t('aq.clear')));
      mount(chips, list);
    };
    drawChips();

    // saved filters
    const savedSel = el('select', { id: 'aq-saved', class: 'input' });
    const drawSaved = () => {
      const list = loadSaved();
      mount(savedSel, el('option', { value: '' }, list.length ? t('aq.saved.pick') : t('aq.saved.none')), list.map((f, i) => el('option', { value: String(i) }, f.name)));
    };
    drawSaved();
    savedSel.addEventListener('change', () => { const f = loadSaved()[Number(savedSel.value)]; if (f) ctx.navigate(`#/alerts${f.query ? `?${f.query}` : ''}`); });
    const saveName = el('input', { id: 'aq-save-name', class: 'input', size: 14, placeholder: t('aq.save.name'), 'aria-label': t('aq.save.name') });
    const saved = el('div', { class: 'saved' },
      el('label', { for: 'aq-saved' }, t('aq.saved')), savedSel,
      el('button', { type: 'button', class: 'btn small', onclick: () => { const i = Number(savedSel.value); if (savedSel.value === '') return; const l = loadSaved(); l.splice(i, 1); storeSaved(l); drawSaved(); } }, t('aq.saved.del')),
      saveName,
      el('button', { type: 'button', class: 'btn small', onclick: () => {
        const name = saveName.value.trim() || new Date().toLocaleString();
        const q = new URLSearchParams(p); q.delete('cursor');
        const l = loadSaved().filter((f) => f.name !== name); l.push({ name, query: q.toString() }); storeSaved(l); saveName.value = ''; drawSaved();
      } }, t('aq.save')));

    // toolbar
    const selInfo = el('span', { class: 'small', role: 'status', 'aria-live': 'polite' });
    const status = el('span', { class: 'small muted', role: 'status', 'aria-live': 'polite' });
    const actBtn = (label, action, key) => el('button', { type: 'button', class: 'btn small', 'aria-keyshortcuts': key || null, title: key ? `${label} (${key})` : label, onclick: () => triageSelection(action) }, label);
    const toolbar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': t('aq.d.actions') },
      selInfo,
      canTriage ? [el('span', { class: 'sep' }), actBtn(t('aq.ack'), 'acknowledge', 'a'), actBtn(t('aq.resolve'), 'resolve', 'r'), actBtn(t('aq.fp'), 'false_positive', 'f'),
        el('button', { type: 'button', class: 'btn small', onclick: () => askAndAct('assign') }, t('aq.assign')),
        el('button', { type: 'button', class: 'btn small', onclick: () => askAndAct('comment') }, t('aq.comment')),
        el('button', { type: 'button', class: 'btn small', onclick: () => askAndAct('suppress_similar') }, t('aq.suppress')),
        el('span', { class: 'sep' }),
        el('button', { type: 'button', class: 'btn small', onclick: () => bulkAll() }, t('aq.allmatch'))] : el('span', { class: 'small muted' }, t('aq.readonly')),
      el('span', { class: 'spacer' }), status,
      el('button', { type: 'button', class: 'btn small', onclick: () => exportAll('csv') }, t('aq.export.csv')),
      el('button', { type: 'button', class: 'btn small', onclick: () => exportAll('json') }, t('aq.export.json')),
      el('button', { type: 'button', class: 'btn small ghost', 'aria-keyshortcuts': '?', onclick: () => help() }, t('aq.help')));

    // table
    const tbody = el('tbody');
    const sortHead = (key, label, cls) => {
      const [k, dir] = sort.startsWith('-') ? [sort.slice(1), 'descending'] : [sort, 'ascending'];
      return el('th', { scope: 'col', class: cls, 'aria-sort': k === key ? dir : null },
        el('button', { type: 'button', 'aria-label': t('aq.sortby', { c: label }), onclick: () => withParam((np) => { np.set('sort', k === key && dir === 'ascending' ? `-${key}` : key); }) }, label));
    };
    const selectAll = el('input', { type: 'checkbox', 'aria-label': t('aq.k.shiftx'), onchange: (e) => { if (e.target.checked) rows.forEach((r) => selected.add(r.alert.id)); else selected.clear(); drawRows(); } });
    const table = el('table', { class: 'grid', 'aria-label': t('aq.title'), 'aria-rowcount': '-1' },
      el('thead', {}, el('tr', {}, el('th', { class: 'col-check', scope: 'col' }, selectAll),
        sortHead('severity', t('aq.severity'), 'col-sev'), sortHead('title', t('aq.col.title')), sortHead('detector', t('aq.detector'), 'col-det'),
        sortHead('tenant', t('aq.tenant'), 'col-tenant'), sortHead('host', t('aq.host'), 'col-host'), sortHead('status', t('aq.status'), 'col-status'), sortHead('last_seen', t('aq.col.time'), 'col-time'))),
      tbody);
    const more = el('button', { type: 'button', class: 'btn', onclick: () => loadPage() }, t('aq.more'));
    const pager = el('div', { class: 'pager' }, el('span', { class: 'small muted', id: 'aq-loaded' }), more, sort ? el('span', { class: 'small muted' }, t('aq.sortnote')) : null);
    const tableWrap = el('div', { class: 'table-wrap' }, table);

    mount(root, el('div', { class: 'aq' },
      el('div', { class: 'page-head' }, el('h1', {}, t('aq.title')), saved),
      form, chips, toolbar, tableWrap, pager));

    function sorted() {
      if (!sort) return rows;
      const key = sort.replace(/^-/, ''); const fn = SORTS[key]; if (!fn) return rows;
      const r = [...rows].sort(fn); return sort.startsWith('-') ? r.reverse() : r;
    }
    let view = [];
    function drawRows() {
      view = sorted();
      if (!view.length) { mount(tbody, el('tr', {}, el('td', { colspan: 8, class: 'empty wrap' }, t('aq.empty')))); }
      else mount(tbody, view.map((r, i) => {
        const a = r.alert; const st = r.state || {};
        const tr = el('tr', { class: [selected.has(a.id) ? 'selected' : '', i === cur ? 'cursor' : ''], dataset: { id: a.id, index: String(i) }, 'aria-selected': selected.has(a.id) ? 'true' : 'false',
          onclick: (e) => { if (e.target.closest('button, input, a')) return; cur = i; openDrawer(a.id); } },
          el('td', { class: 'col-check' }, el('input', { type: 'checkbox', checked: selected.has(a.id), 'aria-label': `${t('aq.col.sel')}: ${a.title}`, onchange: (e) => { if (e.target.checked) selected.add(a.id); else selected.delete(a.id); updateSel(); tr.classList.toggle('selected', e.target.checked); } })),
          el('td', {}, cell('severity', a.severity, severityBadge(a.severity))),
          el('td', { class: 'title-cell', title: a.summary || '' }, el('a', { href: `#/alerts?${new URLSearchParams(p).toString()}`, onclick: (e) => { e.preventDefault(); cur = i; openDrawer(a.id); } }, a.title)),
          el('td', {}, cell('detector', a.detector, el('span', { class: 'mono small' }, a.detector))),
          el('td', {}, a.actor_tenant_id ? el('span', { class: 'cellv' }, cell('tenant', a.actor_tenant_id), ' → ', cell('tenant', a.tenant_id)) : cell('tenant', a.tenant_id)),
          el('td', {}, cell('host', a.host_id, el('span', { class: 'mono small' }, a.host_id || '—'))),
          el('td', {}, cell('status', st.status, el('span', { class: `status status-${st.status}` }, statusLabel(st.status)))),
          el('td', {}, timeEl(a.last_seen)));
        return tr;
      }));
      updateSel();
      const loaded = document.getElementById('aq-loaded'); if (loaded) loaded.textContent = t('aq.loaded', { n: fmtNumber(rows.length) });
      more.hidden = !cursor;
    }
    function updateSel() { selInfo.textContent = t('aq.selected', { n: selected.size }); }
    function moveCursor(d) {
      if (!view.length) return;
      cur = Math.max(0, Math.min(view.length - 1, cur + d));
      tbody.querySelectorAll('tr.cursor').forEach((x) => x.classList.remove('cursor'));
      const tr = tbody.children[cur]; if (tr) { tr.classList.add('cursor'); tr.scrollIntoView({ block: 'nearest' }); }
      if (drawer) openDrawer(view[cur].alert.id);
    }

    async function loadPage() {
      const params = apiParams(p); params.set('limit', String(PAGE)); if (cursor) params.set('cursor', cursor);
      try {
        more.disabled = true;
        const page = await api('/alerts', { params });
        if (destroyed) return;
        rows = rows.concat((page.items || []).map(rowAlert)); cursor = page.next_cursor || null;
        drawRows();
      } catch (e) { if (!destroyed) mount(tbody, el('tr', {}, el('td', { colspan: 8, class: 'wrap' }, ctx.errorBox(e)))); } finally { more.disabled = false; }
    }

    async function everyMatching(onProgress) {
      const out = []; let c = null;
      do {
        const params = apiParams(p); params.set('limit', '500'); if (c) params.set('cursor', c);
        const page = await api('/alerts', { params });
        out.push(...(page.items || []).map(rowAlert)); c = page.next_cursor || null;
        if (onProgress) onProgress(out.length);
      } while (c && !destroyed);
      return out;
    }

    async function act(id, body) {
      return api(`/alerts/${encodeURIComponent(id)}/actions`, { method: 'POST', body, headers: { 'Idempotency-Key': uid() } });
    }
    async function actMany(ids, body, progress) {
      let ok = 0; let bad = 0; let firstErr = null; let i = 0;
      const queue = [...ids];
      const worker = async () => {
        while (queue.length && !destroyed) {
          const id = queue.shift();
          try {
            const res = await act(id, body); ok += 1;
            const r = rows.find((x) => x.alert.id === id); if (r && res && res.state) r.state = res.state;
          } catch (e) { bad += 1; firstErr = firstErr || e; }
          i += 1; if (progress) progress(i, ids.length);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      return { ok, bad, firstErr };
    }
    function report({ ok, bad, firstErr }) {
      status.textContent = t('aq.done', { ok, bad }) + (firstErr ? ` — ${t('aq.failed', { e: firstErr instanceof ApiError ? `${firstErr.status} ${firstErr.title}${firstErr.detail ? `: ${firstErr.detail}` : ''}` : firstErr.message })}` : '');
    }
    function targetIds() {
      if (selected.size) return [...selected];
      if (cur >= 0 && view[cur]) return [view[cur].alert.id];
      return [];
    }
    async function triageSelection(action, extra = {}) {
      const ids = targetIds();
      if (!ids.length) { status.textContent = t('aq.nosel'); return; }
      status.textContent = '…';
      const res = await actMany(ids, { action, ...extra }, (i, n) => { status.textContent = t('aq.bulk.progress', { i, n }); });
      report(res); drawRows();
      if (drawer && drawer.dataset.id && ids.includes(drawer.dataset.id)) openDrawer(drawer.dataset.id);
    }

    // ---------- dialogs ----------
    function closeDialog() { if (dialog) { dialog.remove(); dialog = null; } }
    function openDialog(title, ...content) {
      closeDialog();
      const prev = document.activeElement;
      const box = el('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'dlg-title' }, el('h2', { id: 'dlg-title' }, title), ...content);
      dialog = el('div', { class: 'dialog-backdrop', onclick: (e) => { if (e.target === dialog) closeDialog(); } }, box);
      dialog.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') { e.stopPropagation(); closeDialog(); if (prev && prev.focus) prev.focus(); }
        if (e.key === 'Tab') { // keep focus inside
          const f = [...box.querySelectorAll('button, input, select, textarea, a[href]')].filter((x) => !x.disabled);
          if (!f.length) return;
          if (e.shiftKey && document.activeElement === f[0]) { e.preventDefault(); f[f.length - 1].focus(); } else if (!e.shiftKey && document.activeElement === f[f.length - 1]) { e.preventDefault(); f[0].focus(); }
        }
      });
      document.body.appendChild(dialog);
      const first = box.querySelector('input, textarea, select, button'); if (first) first.focus();
      return box;
    }
    function askFields(action) {
      if (action === 'assign') { const i = el('input', { id: 'dlg-assignee', class: 'input wide', value: s.name || '' }); return { nodes: [el('label', { for: 'dlg-assignee' }, t('aq.assignee')), i], body: () => ({ assignee: i.value.trim() || null }) }; }
      if (action === 'comment') { const i = el('textarea', { id: 'dlg-comment', class: 'input' }); return { nodes: [el('label', { for: 'dlg-comment' }, t('aq.commentText')), i], body: () => ({ comment: i.value }) }; }
      if (action === 'suppress_similar') {
        const u = el('input', { id: 'dlg-until', class: 'input', type: 'datetime-local' }); const c = el('textarea', { id: 'dlg-comment', class: 'input' });
        return { nodes: [el('label', { for: 'dlg-until' }, t('aq.untilLbl')), u, el('label', { for: 'dlg-comment' }, t('aq.commentText')), c], body: () => ({ until: fromLocalInput(u.value) || null, comment: c.value }) };
      }
      const c = el('textarea', { id: 'dlg-comment', class: 'input' });
      return { nodes: [el('label', { for: 'dlg-comment' }, t('aq.commentText')), c], body: () => ({ comment: c.value }) };
    }
    const ACTION_LABEL = { acknowledge: 'aq.ack', resolve: 'aq.resolve', false_positive: 'aq.fp', assign: 'aq.assign', comment: 'aq.comment', suppress_similar: 'aq.suppress', investigate: 'aq.investigate', reopen: 'aq.reopen' };
    function askAndAct(action) {
      const ids = targetIds();
      if (!ids.length) { status.textContent = t('aq.nosel'); return; }
      const f = askFields(action);
      openDialog(`${t(ACTION_LABEL[action])} — ${t('aq.selected', { n: ids.length })}`, el('div', { class: 'field' }, f.nodes),
        el('div', { class: 'actions' }, el('button', { type: 'button', class: 'btn', onclick: closeDialog }, t('aq.bulk.cancel')),
          el('button', { type: 'button', class: 'btn primary', onclick: () => { const b = f.body(); closeDialog(); triageSelection(action, b); } }, t('aq.ok'))));
    }

    function filterSummary() {
      const items = [];
      for (const k of [...LIST_KEYS, ...ONE_KEYS]) { const v = p.getAll(k); if (v.length) items.push(el('li', {}, el('strong', {}, `${k}: `), el('code', {}, v.join(', ')))); }
      return items.length ? el('ul', {}, items) : el('p', { class: 'muted' }, t('aq.bulk.nofilter'));
    }
    async function bulkAll() {
      const counting = el('p', { role: 'status' }, t('aq.bulk.counting'));
      const box = openDialog(t('aq.bulk.title'), counting);
      let all;
      try { all = await everyMatching((n) => { counting.textContent = `${t('aq.bulk.counting')} ${n}`; }); } catch (e) { mount(counting, ctx.errorBox(e)); return; }
      if (!dialog || !box.isConnected) return;
      const ids = all.map((r) => r.alert.id);
      const actionSel = el('select', { id: 'dlg-action', class: 'input' }, ['acknowledge', 'resolve', 'false_positive', 'investigate', 'assign', 'comment', 'reopen'].map((a) => el('option', { value: a }, t(ACTION_LABEL[a]).replace('…', ''))));
      const extra = el('div', { class: 'field' });
      const drawExtra = () => { const f = askFields(actionSel.value); extra.fields = f; mount(extra, ['assign', 'comment'].includes(actionSel.value) ? f.nodes : f.nodes); };
      actionSel.addEventListener('change', drawExtra); drawExtra();
      const bar = el('div'); const prog = el('div', { class: 'progress', hidden: true }, bar);
      const confirm = el('button', { type: 'button', class: 'btn primary', disabled: !ids.length }, t('aq.bulk.confirm', { n: fmtNumber(ids.length) }));
      confirm.addEventListener('click', async () => {
        confirm.disabled = true; prog.hidden = false;
        const res = await actMany(ids, { action: actionSel.value, ...extra.fields.body() }, (i, n) => { bar.style.width = `${Math.round((i / n) * 100)}%`; });
        report(res); closeDialog(); rows = []; cursor = null; selected.clear(); loadPage();
      });
      mount(box, el('h2', { id: 'dlg-title' }, t('aq.bulk.title')),
        el('p', {}, t('aq.bulk.count', { n: fmtNumber(ids.length) })), filterSummary(),
        !p.get('since') && !p.get('until') ? el('p', { class: 'notice' }, t('aq.bulk.unbounded', { n: fmtNumber(ids.length) })) : null,
        el('div', { class: 'field' }, el('label', { for: 'dlg-action' }, t('aq.bulk.action')), actionSel), extra, prog,
        el('div', { class: 'actions' }, el('button', { type: 'button', class: 'btn', onclick: closeDialog }, t('aq.bulk.cancel')), confirm));
      actionSel.focus();
    }

    async function exportAll(kind) {
      status.textContent = t('aq.exporting', { n: 0 });
      let all;
      try { all = await everyMatching((n) => { status.textContent = t('aq.exporting', { n }); }); } catch (e) { report({ ok: 0, bad: 1, firstErr: e }); return; }
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      if (kind === 'json') download(`fenghuo-alerts-${stamp}.json`, 'application/json', JSON.stringify({ filter: Object.fromEntries([...apiParams(p).keys()].map((k) => [k, apiParams(p).getAll(k)])), exported_at: new Date().toISOString(), items: all }, null, 2));
      else {
        const cols = ['id', 'severity', 'title', 'detector', 'tenant_id', 'actor_tenant_id', 'host_id', 'vm_id', 'technique', 'category', 'confidence', 'first_seen', 'last_seen', 'detected_at', 'summary'];
        const lines = [[...cols, 'status', 'assignee'].join(',')];
        for (const r of all) lines.push([...cols.map((c) => csvCell(r.alert[c])), csvCell(r.state?.status), csvCell(r.state?.assignee)].join(','));
        download(`fenghuo-alerts-${stamp}.csv`, 'text/csv;charset=utf-8', `\ufeff${lines.join('\r\n')}\r\n`);
      }
      status.textContent = `${kind.toUpperCase()}: ${fmtNumber(all.length)}`;
    }

    function help() {
      const k = (keys, label) => el('tr', {}, el('td', {}, keys.map((x) => [el('kbd', {}, x), ' '])), el('td', {}, t(label)));
      openDialog(t('aq.help.title'), el('table', { class: 'keys' }, el('tbody', {},
        k(['j', 'k'], 'aq.k.jk'), k(['x'], 'aq.k.x'), k(['Shift', 'X'], 'aq.k.shiftx'), k(['a'], 'aq.k.a'), k(['r'], 'aq.k.r'), k(['f'], 'aq.k.f'),
        k(['/'], 'aq.k.slash'), k(['Enter'], 'aq.k.enter'), k(['Esc'], 'aq.k.esc'), k(['?'], 'aq.k.q'))),
      el('div', { class: 'actions' }, el('button', { type: 'button', class: 'btn', onclick: closeDialog }, t('aq.ok'))));
    }

    // ---------- drawer ----------
    function closeDrawer() { if (drawer) { drawer.remove(); drawer = null; } }
    async function openDrawer(id) {
      if (!drawer) {
        drawer = el('aside', { class: 'drawer', role: 'complementary', 'aria-label': t('aq.d.fields'), tabindex: '-1' });
        document.body.appendChild(drawer);
      }
      drawer.dataset.id = id;
      mount(drawer, el('p', { class: 'muted' }, t('loading')));
      let one; let log;
      try {
        [one, log] = await Promise.all([api(`/alerts/${encodeURIComponent(id)}`), api(`/alerts/${encodeURIComponent(id)}/actions`).catch((e) => ({ error: e }))]);
      } catch (e) { if (drawer) mount(drawer, el('button', { type: 'button', class: 'btn small close', onclick: closeDrawer, 'aria-label': t('aq.d.close') }, '✕'), ctx.errorBox(e)); return; }
      if (!drawer || drawer.dataset.id !== id) return;
      const { alert: a, state: st = {} } = rowAlert(one);
      const kv = (k, v) => [el('dt', {}, k), el('dd', {}, v ?? '—')];
      const logItems = log.error ? ctx.errorBox(log.error) : (log.items || []).length ? el('ul', { class: 'list log' }, log.items.map((x) => el('li', {},
        el('span', {}, el('strong', {}, x.action || x.kind || '?'), ' · ', x.actor || x.by || x.key_name || x.submitted_by || '', ' · ', timeEl(x.at || x.created_at || x.time)),
        x.assignee ? el('span', { class: 'small' }, `→ ${x.assignee}`) : null, x.comment ? el('span', { class: 'small' }, x.comment) : null,
        x.until ? el('span', { class: 'small muted' }, ['⏱ ', timeEl(x.until)]) : null))) : el('p', { class: 'muted' }, t('aq.d.nolog'));
      mount(drawer,
        el('button', { type: 'button', class: 'btn small close', onclick: () => { closeDrawer(); const tr = tbody.children[cur]; if (tr) tr.focus(); }, 'aria-label': t('aq.d.close') }, '✕'),
        el('div', { class: 'row gap' }, severityBadge(a.severity), el('span', { class: `status status-${st.status}` }, statusLabel(st.status))),
        el('h2', {}, a.title),
        el('p', {}, a.summary),
        el('section', {}, el('h3', {}, t('aq.d.fields')), el('dl', { class: 'kv' },
          kv(t('aq.detector'), el('span', { class: 'cellv' }, el('span', { class: 'mono' }, a.detector), fv('detector', a.detector))),
          kv(t('aq.d.victim'), el('span', { class: 'cellv' }, a.tenant_id, fv('tenant', a.tenant_id))),
          a.actor_tenant_id ? kv(t('aq.d.actor'), el('span', { class: 'cellv' }, a.actor_tenant_id, fv('tenant', a.actor_tenant_id))) : null,
          kv(t('aq.host'), a.host_id ? el('span', { class: 'cellv' }, el('a', { href: `#/hosts/${encodeURIComponent(a.host_id)}`, class: 'mono' }, a.host_id), fv('host', a.host_id)) : '—'),
          kv(t('aq.d.vm'), a.vm_id), kv(t('aq.d.technique'), a.technique), kv(t('aq.d.category'), a.category), kv(t('aq.d.confidence'), a.confidence),
          kv(t('aq.d.first'), timeEl(a.first_seen)), kv(t('aq.col.time'), timeEl(a.last_seen)), kv(t('aq.d.detected'), timeEl(a.detected_at)),
          kv(t('aq.d.assignee'), st.assignee), kv('ID', el('code', {}, a.id)))),
        canTriage ? el('section', {}, el('h3', {}, t('aq.d.actions')), el('div', { class: 'row gap' },
          ['acknowledge', 'investigate', 'resolve', 'false_positive', 'reopen'].map((x) => el('button', { type: 'button', class: 'btn small', onclick: async () => {
            try { await act(a.id, { action: x }); status.textContent = t('aq.done', { ok: 1, bad: 0 }); } catch (e) { report({ ok: 0, bad: 1, firstErr: e }); }
            const r = rows.find((y) => y.alert.id === a.id); if (r) { try { r.state = rowAlert(await api(`/alerts/${encodeURIComponent(a.id)}`)).state; } catch { /* shown on reopen */ } drawRows(); }
            openDrawer(a.id);
          } }, t(ACTION_LABEL[x]))),
          ['assign', 'comment', 'suppress_similar'].map((x) => el('button', { type: 'button', class: 'btn small', onclick: () => { selected.clear(); selected.add(a.id); drawRows(); askAndAct(x); } }, t(ACTION_LABEL[x]))))) : null,
        el('section', {}, el('h3', {}, t('aq.d.entities')), el('ul', { class: 'list' }, (a.entities || []).map((en) => el('li', {}, el('span', { class: 'small muted' }, en.type), el('span', { class: 'entity grow' }, en.id),
          en.type === 'host' ? fv('host', en.id) : en.type === 'tenant' ? fv('tenant', en.id) : null)))),
        el('section', {}, el('h3', {}, `${t('aq.d.evidence')} (${a.evidence_count ?? (a.evidence || []).length})`), el('ul', { class: 'list' }, (a.evidence || []).map((ev) => el('li', {}, el('code', { class: 'small' }, ev))))),
        a.details ? el('section', {}, el('h3', {}, t('aq.d.details')), el('pre', {}, JSON.stringify(a.details, null, 2))) : null,
        el('section', {}, el('h3', {}, t('aq.d.log')), logItems));
    }

    // ---------- keyboard ----------
    function onKey(e) {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
      const tag = (e.target.tagName || '').toLowerCase();
      const typing = tag === 'input' || tag === 'textarea' || tag === 'select' || e.target.isContentEditable;
      if (e.key === 'Escape') { if (dialog) { closeDialog(); return; } if (drawer) { closeDrawer(); return; } if (typing) e.target.blur(); return; }
      if (typing || dialog) return;
      if (e.key === 'j') { e.preventDefault(); moveCursor(1); } else if (e.key === 'k') { e.preventDefault(); moveCursor(-1); } else if (e.key === 'x') {
        if (cur < 0 || !view[cur]) return; const id = view[cur].alert.id;
        if (selected.has(id)) selected.delete(id); else selected.add(id);
        const tr = tbody.children[cur]; if (tr) { tr.classList.toggle('selected', selected.has(id)); const cb = tr.querySelector('input'); if (cb) cb.checked = selected.has(id); }
        updateSel();
      } else if (e.key === 'X') { if (selected.size) selected.clear(); else rows.forEach((r) => selected.add(r.alert.id)); drawRows(); } else if (ACTION_KEYS[e.key] && canTriage) { e.preventDefault(); triageSelection(ACTION_KEYS[e.key]); } else if (e.key === '/') { e.preventDefault(); qInput.focus(); qInput.select(); } else if (e.key === '?') { e.preventDefault(); help(); } else if (e.key === 'Enter' && cur >= 0 && view[cur] && !e.target.closest('button, a')) { e.preventDefault(); openDrawer(view[cur].alert.id); }
    }
    document.addEventListener('keydown', onKey);

    // live: new alerts are announced, not inserted (the list is the filter's snapshot)
    let fresh = 0;
    ctx.subscribe('alert', () => { fresh += 1; status.textContent = `+${fresh} ↻`; });

    // detectors for the select and for "filter out" on detector
    api('/detectors').then((d) => {
      detectors = d.items || d || [];
      mount(detSelect, ...[...multi('detector', detectors.map((x) => x.id), t('aq.detector')).childNodes]);
      drawRows();
    }).catch(() => { mount(detSelect, ...[...multi('detector', p.getAll('detector'), t('aq.detector')).childNodes]); });

    await loadPage();
    if (match && match[1]) openDrawer(decodeURIComponent(match[1]));
    return () => { destroyed = true; document.removeEventListener('keydown', onKey); closeDrawer(); closeDialog(); };
  },
};
