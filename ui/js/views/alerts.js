// Alert queue: filters in the URL (exclusions too), saved filters, filter for/out, sort, keyboard
// triage, bulk triage on a selection or on everything matching the filter, export, detail drawer.
// The filter's parameters: alerts_params.js; actions, bulk and export: alerts_bulk.js; the
// drawer: alerts_drawer.js; messages: alerts_messages.js.
import { el, mount, timeEl, severityBadge, severityLabel, statusLabel, fmtNumber, SEVERITIES, severityRank } from '../format.js';
import messages from './alerts_messages.js';
import {
  STATUSES, LIST_KEYS, NOT_KEYS, apiParams, filterFor as forValue, filterOut as outValue, dropValue,
  activeFilters, fieldLabel, loadSaved, storeSaved, toLocalInput, fromLocalInput, rowAlert,
} from './alerts_params.js';
import { createActions } from './alerts_bulk.js';
import { createDrawer } from './alerts_drawer.js';

const PAGE = 100;
const ACTION_KEYS = { a: 'acknowledge', r: 'resolve', f: 'false_positive' };

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
  messages,

  async render(root, match, ctx) {
    const { api, t } = ctx;
    const p = ctx.params;
    const s = ctx.session() || {};
    const canTriage = s.can_triage !== undefined ? s.can_triage : ['admin', 'soc_analyst'].includes(s.role);
    // Shared with the drawer and the actions: the loaded rows, cursor row, selection.
    const st = { rows: [], view: [], cur: -1, selected: new Set(), destroyed: false };
    let cursor = null;
    const sort = p.get('sort') || '';

    const go = (np) => { np.delete('cursor'); const q = np.toString(); ctx.navigate(`#/alerts${q ? `?${q}` : ''}`); };
    const withParam = (fn) => { const np = new URLSearchParams(p); fn(np); go(np); };
    const filterFor = (key, value) => withParam((np) => forValue(np, key, value));
    const filterOut = (key, value) => withParam((np) => outValue(np, key, value));

    // "filter for / filter out this value" buttons beside a value of a field
    function fv(key, value) {
      if (value === null || value === undefined || value === '') return null;
      const canOut = LIST_KEYS.includes(key) || Boolean(NOT_KEYS[key]);
      return el('span', { class: 'fv' },
        el('button', { type: 'button', title: `${t('aq.for')}: ${value}`, 'aria-label': `${t('aq.for')}: ${value}`, onclick: (e) => { e.stopPropagation(); filterFor(key, value); } }, '+'),
        canOut ? el('button', { type: 'button', title: `${t('aq.out')}: ${value}`, 'aria-label': `${t('aq.out')}: ${value}`, onclick: (e) => { e.stopPropagation(); filterOut(key, value); } }, '−') : null);
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

    // active filter chips; an exclusion reads "Tenant ≠ acme" (and "Tenant is not acme" to a
    // screen reader), each removable on its own
    const chips = el('div', { class: 'chips', role: 'group', 'aria-label': t('aq.chips') });
    const chip = (f) => {
      const label = fieldLabel(t, f.field);
      const remove = el('button', { type: 'button', 'aria-label': t(f.negated ? 'aq.not.remove' : 'aq.chip.remove', { f: label, v: f.shown }), onclick: () => withParam((np) => dropValue(np, f.key, f.value)) }, '✕');
      if (!f.negated) return el('span', { class: 'chip', dataset: { key: f.key } }, `${label}: ${f.shown}`, remove);
      return el('span', { class: 'chip neg', dataset: { key: f.key, value: f.value } },
        el('span', { 'aria-hidden': 'true' }, `${label} ≠ ${f.shown}`),
        el('span', { class: 'visually-hidden' }, t('aq.not.chip', { f: label, v: f.shown })), remove);
    };
    const list = activeFilters(p).map(chip);
    if (list.length) list.push(el('button', { type: 'button', class: 'btn small ghost', onclick: () => go(new URLSearchParams()) }, t('aq.clear')));
    mount(chips, list);

    // saved filters (the whole query of the URL, exclusions included)
    const savedSel = el('select', { id: 'aq-saved', class: 'input' });
    const drawSaved = () => {
      const l = loadSaved();
      mount(savedSel, el('option', { value: '' }, l.length ? t('aq.saved.pick') : t('aq.saved.none')), l.map((f, i) => el('option', { value: String(i) }, f.name)));
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

    // table (rows drawn by drawRows below)
    const tbody = el('tbody');
    const status = el('span', { class: 'small muted', role: 'status', 'aria-live': 'polite' });
    const selInfo = el('span', { class: 'small', role: 'status', 'aria-live': 'polite' });
    const drawerEnv = { ctx, canTriage, fv, st, status, tbody, drawRows: () => drawRows(), actions: null };
    const drawer = createDrawer(drawerEnv);
    const actions = createActions({
      ctx, p, st, status, canTriage, drawer,
      drawRows: () => drawRows(),
      reload: () => { st.rows = []; cursor = null; st.selected.clear(); loadPage(); },
    });
    drawerEnv.actions = actions;

    // toolbar
    const actBtn = (label, action, key) => el('button', { type: 'button', class: 'btn small', 'aria-keyshortcuts': key || null, title: key ? `${label} (${key})` : label, onclick: () => actions.triageSelection(action) }, label);
    const toolbar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': t('aq.d.actions') },
      selInfo,
      canTriage ? [el('span', { class: 'sep' }), actBtn(t('aq.ack'), 'acknowledge', 'a'), actBtn(t('aq.resolve'), 'resolve', 'r'), actBtn(t('aq.fp'), 'false_positive', 'f'),
        el('button', { type: 'button', class: 'btn small', onclick: () => actions.askAndAct('assign') }, t('aq.assign')),
        el('button', { type: 'button', class: 'btn small', onclick: () => actions.askAndAct('comment') }, t('aq.comment')),
        el('button', { type: 'button', class: 'btn small', onclick: () => actions.askAndAct('suppress_similar') }, t('aq.suppress')),
        el('span', { class: 'sep' }),
        el('button', { type: 'button', class: 'btn small', onclick: () => actions.bulkAll() }, t('aq.allmatch'))] : el('span', { class: 'small muted' }, t('aq.readonly')),
      el('span', { class: 'spacer' }), status,
      el('button', { type: 'button', class: 'btn small', onclick: () => actions.exportAll('csv') }, t('aq.export.csv')),
      el('button', { type: 'button', class: 'btn small', onclick: () => actions.exportAll('json') }, t('aq.export.json')),
      el('button', { type: 'button', class: 'btn small ghost', 'aria-keyshortcuts': '?', onclick: () => actions.help() }, t('aq.help')));

    const sortHead = (key, label, cls) => {
      const [k, dir] = sort.startsWith('-') ? [sort.slice(1), 'descending'] : [sort, 'ascending'];
      return el('th', { scope: 'col', class: cls, 'aria-sort': k === key ? dir : null },
        el('button', { type: 'button', 'aria-label': t('aq.sortby', { c: label }), onclick: () => withParam((np) => { np.set('sort', k === key && dir === 'ascending' ? `-${key}` : key); }) }, label));
    };
    const selectAll = el('input', { type: 'checkbox', 'aria-label': t('aq.k.shiftx'), onchange: (e) => { if (e.target.checked) st.rows.forEach((r) => st.selected.add(r.alert.id)); else st.selected.clear(); drawRows(); } });
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
      if (!sort) return st.rows;
      const key = sort.replace(/^-/, ''); const fn = SORTS[key]; if (!fn) return st.rows;
      const r = [...st.rows].sort(fn); return sort.startsWith('-') ? r.reverse() : r;
    }
    function drawRows() {
      st.view = sorted();
      const { selected } = st;
      if (!st.view.length) { mount(tbody, el('tr', {}, el('td', { colspan: 8, class: 'empty wrap' }, t('aq.empty')))); }
      else mount(tbody, st.view.map((r, i) => {
        const a = r.alert; const rs = r.state || {};
        const tr = el('tr', { class: [selected.has(a.id) ? 'selected' : '', i === st.cur ? 'cursor' : ''], dataset: { id: a.id, index: String(i) }, 'aria-selected': selected.has(a.id) ? 'true' : 'false',
          onclick: (e) => { if (e.target.closest('button, input, a')) return; st.cur = i; drawer.open(a.id); } },
          el('td', { class: 'col-check' }, el('input', { type: 'checkbox', checked: selected.has(a.id), 'aria-label': `${t('aq.col.sel')}: ${a.title}`, onchange: (e) => { if (e.target.checked) selected.add(a.id); else selected.delete(a.id); updateSel(); tr.classList.toggle('selected', e.target.checked); } })),
          el('td', {}, cell('severity', a.severity, severityBadge(a.severity))),
          el('td', { class: 'title-cell', title: a.summary || '' }, el('a', { href: `#/alerts?${new URLSearchParams(p).toString()}`, onclick: (e) => { e.preventDefault(); st.cur = i; drawer.open(a.id); } }, a.title)),
          el('td', {}, cell('detector', a.detector, el('span', { class: 'mono small' }, a.detector))),
          el('td', {}, a.actor_tenant_id ? el('span', { class: 'cellv' }, cell('tenant', a.actor_tenant_id), ' → ', cell('tenant', a.tenant_id)) : cell('tenant', a.tenant_id)),
          el('td', {}, cell('host', a.host_id, el('span', { class: 'mono small' }, a.host_id || '—'))),
          el('td', {}, cell('status', rs.status, el('span', { class: `status status-${rs.status}` }, statusLabel(rs.status)))),
          el('td', {}, timeEl(a.last_seen)));
        return tr;
      }));
      updateSel();
      const loaded = document.getElementById('aq-loaded'); if (loaded) loaded.textContent = t('aq.loaded', { n: fmtNumber(st.rows.length) });
      more.hidden = !cursor;
    }
    function updateSel() { selInfo.textContent = t('aq.selected', { n: st.selected.size }); }
    function moveCursor(d) {
      if (!st.view.length) return;
      st.cur = Math.max(0, Math.min(st.view.length - 1, st.cur + d));
      tbody.querySelectorAll('tr.cursor').forEach((x) => x.classList.remove('cursor'));
      const tr = tbody.children[st.cur]; if (tr) { tr.classList.add('cursor'); tr.scrollIntoView({ block: 'nearest' }); }
      if (drawer.isOpen()) drawer.open(st.view[st.cur].alert.id);
    }

    async function loadPage() {
      const params = apiParams(p); params.set('limit', String(PAGE)); if (cursor) params.set('cursor', cursor);
      try {
        more.disabled = true;
        const page = await api('/alerts', { params });
        if (st.destroyed) return;
        st.rows = st.rows.concat((page.items || []).map(rowAlert)); cursor = page.next_cursor || null;
        drawRows();
      } catch (e) { if (!st.destroyed) mount(tbody, el('tr', {}, el('td', { colspan: 8, class: 'wrap' }, ctx.errorBox(e)))); } finally { more.disabled = false; }
    }

    // ---------- keyboard ----------
    function onKey(e) {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
      const tag = (e.target.tagName || '').toLowerCase();
      const typing = tag === 'input' || tag === 'textarea' || tag === 'select' || e.target.isContentEditable;
      const { view, selected } = st;
      if (e.key === 'Escape') { if (actions.dialogOpen()) { actions.closeDialog(); return; } if (drawer.isOpen()) { drawer.close(); return; } if (typing) e.target.blur(); return; }
      if (typing || actions.dialogOpen()) return;
      if (e.key === 'j') { e.preventDefault(); moveCursor(1); } else if (e.key === 'k') { e.preventDefault(); moveCursor(-1); } else if (e.key === 'x') {
        if (st.cur < 0 || !view[st.cur]) return; const id = view[st.cur].alert.id;
        if (selected.has(id)) selected.delete(id); else selected.add(id);
        const tr = tbody.children[st.cur]; if (tr) { tr.classList.toggle('selected', selected.has(id)); const cb = tr.querySelector('input'); if (cb) cb.checked = selected.has(id); }
        updateSel();
      } else if (e.key === 'X') { if (selected.size) selected.clear(); else st.rows.forEach((r) => selected.add(r.alert.id)); drawRows(); } else if (ACTION_KEYS[e.key] && canTriage) { e.preventDefault(); actions.triageSelection(ACTION_KEYS[e.key]); } else if (e.key === '/') { e.preventDefault(); qInput.focus(); qInput.select(); } else if (e.key === '?') { e.preventDefault(); actions.help(); } else if (e.key === 'Enter' && st.cur >= 0 && view[st.cur] && !e.target.closest('button, a')) { e.preventDefault(); drawer.open(view[st.cur].alert.id); }
    }
    document.addEventListener('keydown', onKey);

    // live: new alerts are announced, not inserted (the list is the filter's snapshot)
    let fresh = 0;
    ctx.subscribe('alert', () => { fresh += 1; status.textContent = `+${fresh} ↻`; });

    // detectors for the select
    api('/detectors').then((d) => {
      const detectors = d.items || d || [];
      mount(detSelect, ...[...multi('detector', detectors.map((x) => x.id), t('aq.detector')).childNodes]);
      drawRows();
    }).catch(() => { mount(detSelect, ...[...multi('detector', p.getAll('detector'), t('aq.detector')).childNodes]); });

    await loadPage();
    if (match && match[1]) drawer.open(decodeURIComponent(match[1]));
    return () => { st.destroyed = true; document.removeEventListener('keydown', onKey); drawer.close(); actions.closeDialog(); };
  },
};
