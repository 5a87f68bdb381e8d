// Alert queue: triage actions on a selection, "act on all matching" (every alert the filter in
// the URL selects, exclusions included, counted and listed through the API first), exports of
// the same set, and the modal dialogs they use.
import { el, mount, fmtNumber } from '../format.js';
import { ApiError } from '../api.js';
import { apiParams, activeFilters, fieldLabel, fromLocalInput, rowAlert, uid } from './alerts_params.js';

export const ACTION_LABEL = { acknowledge: 'aq.ack', resolve: 'aq.resolve', false_positive: 'aq.fp', assign: 'aq.assign', comment: 'aq.comment', suppress_similar: 'aq.suppress', investigate: 'aq.investigate', reopen: 'aq.reopen' };
const BULK_ACTIONS = ['acknowledge', 'resolve', 'false_positive', 'investigate', 'assign', 'comment', 'reopen'];

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

/** The filter's conditions as a list, one line per parameter, exclusions named as such. */
export function filterSummary(t, p) {
  const byKey = new Map();
  for (const f of activeFilters(p)) {
    if (!byKey.has(f.key)) byKey.set(f.key, { ...f, values: [] });
    byKey.get(f.key).values.push(f.shown);
  }
  const items = [...byKey.values()].map((f) => el('li', { class: f.negated ? 'excluded' : null, dataset: { key: f.key } },
    el('strong', {}, `${f.negated ? t('aq.bulk.excluded', { f: fieldLabel(t, f.field) }) : fieldLabel(t, f.field)}: `),
    el('code', {}, f.values.join(', '))));
  return items.length ? el('ul', { class: 'filter-summary' }, items) : el('p', { class: 'muted' }, t('aq.bulk.nofilter'));
}

/**
 * env: { ctx, p, st (rows, cur, view, selected, destroyed), status (element), canTriage,
 *        drawRows(), reload(), drawer (open/isOpen/currentId) }
 */
export function createActions(env) {
  const { ctx, p, st, status } = env;
  const { api, t } = ctx;
  const s = ctx.session() || {};
  let dialog = null;

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

  async function everyMatching(onProgress) {
    const out = []; let c = null;
    do {
      const params = apiParams(p); params.set('limit', '500'); if (c) params.set('cursor', c);
      const page = await api('/alerts', { params });
      out.push(...(page.items || []).map(rowAlert)); c = page.next_cursor || null;
      if (onProgress) onProgress(out.length);
    } while (c && !st.destroyed);
    return out;
  }

  async function act(id, body) {
    return api(`/alerts/${encodeURIComponent(id)}/actions`, { method: 'POST', body, headers: { 'Idempotency-Key': uid() } });
  }
  async function actMany(ids, body, progress) {
    let ok = 0; let bad = 0; let firstErr = null; let i = 0;
    const queue = [...ids];
    const worker = async () => {
      while (queue.length && !st.destroyed) {
        const id = queue.shift();
        try {
          const res = await act(id, body); ok += 1;
          const r = st.rows.find((x) => x.alert.id === id); if (r && res && res.state) r.state = res.state;
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
    if (st.selected.size) return [...st.selected];
    if (st.cur >= 0 && st.view[st.cur]) return [st.view[st.cur].alert.id];
    return [];
  }
  async function triageSelection(action, extra = {}) {
    const ids = targetIds();
    if (!ids.length) { status.textContent = t('aq.nosel'); return; }
    status.textContent = '…';
    const res = await actMany(ids, { action, ...extra }, (i, n) => { status.textContent = t('aq.bulk.progress', { i, n }); });
    report(res); env.drawRows();
    const open = env.drawer.currentId();
    if (open && ids.includes(open)) env.drawer.open(open);
  }

  function askFields(action) {
    if (action === 'assign') { const i = el('input', { id: 'dlg-assignee', class: 'input wide', value: s.name || '' }); return { nodes: [el('label', { for: 'dlg-assignee' }, t('aq.assignee')), i], body: () => ({ assignee: i.value.trim() || null }) }; }
    if (action === 'suppress_similar') {
      const u = el('input', { id: 'dlg-until', class: 'input', type: 'datetime-local' }); const c = el('textarea', { id: 'dlg-comment', class: 'input' });
      return { nodes: [el('label', { for: 'dlg-until' }, t('aq.untilLbl')), u, el('label', { for: 'dlg-comment' }, t('aq.commentText')), c], body: () => ({ until: fromLocalInput(u.value) || null, comment: c.value }) };
    }
    const c = el('textarea', { id: 'dlg-comment', class: 'input' });
    return { nodes: [el('label', { for: 'dlg-comment' }, t('aq.commentText')), c], body: () => ({ comment: c.value }) };
  }
  function askAndAct(action) {
    const ids = targetIds();
    if (!ids.length) { status.textContent = t('aq.nosel'); return; }
    const f = askFields(action);
    openDialog(`${t(ACTION_LABEL[action])} — ${t('aq.selected', { n: ids.length })}`, el('div', { class: 'field' }, f.nodes),
      el('div', { class: 'actions' }, el('button', { type: 'button', class: 'btn', onclick: closeDialog }, t('aq.bulk.cancel')),
        el('button', { type: 'button', class: 'btn primary', onclick: () => { const b = f.body(); closeDialog(); triageSelection(action, b); } }, t('aq.ok'))));
  }

  // Counts first (the ids are fixed then), shows the exact conditions, acts on those ids only.
  async function bulkAll() {
    const counting = el('p', { role: 'status' }, t('aq.bulk.counting'));
    const box = openDialog(t('aq.bulk.title'), counting);
    let all;
    try { all = await everyMatching((n) => { counting.textContent = `${t('aq.bulk.counting')} ${n}`; }); } catch (e) { mount(counting, ctx.errorBox(e)); return; }
    if (!dialog || !box.isConnected) return;
    const ids = all.map((r) => r.alert.id);
    const actionSel = el('select', { id: 'dlg-action', class: 'input' }, BULK_ACTIONS.map((a) => el('option', { value: a }, t(ACTION_LABEL[a]).replace('…', ''))));
    const extra = el('div', { class: 'field' });
    const drawExtra = () => { const f = askFields(actionSel.value); extra.fields = f; mount(extra, f.nodes); };
    actionSel.addEventListener('change', drawExtra); drawExtra();
    const bar = el('div'); const prog = el('div', { class: 'progress', hidden: true }, bar);
    const confirm = el('button', { type: 'button', class: 'btn primary', disabled: !ids.length }, t('aq.bulk.confirm', { n: fmtNumber(ids.length) }));
    confirm.addEventListener('click', async () => {
      confirm.disabled = true; prog.hidden = false;
      const res = await actMany(ids, { action: actionSel.value, ...extra.fields.body() }, (i, n) => { bar.style.width = `${Math.round((i / n) * 100)}%`; });
      report(res); closeDialog(); env.reload();
    });
    mount(box, el('h2', { id: 'dlg-title' }, t('aq.bulk.title')),
      el('p', {}, t('aq.bulk.count', { n: fmtNumber(ids.length) })), filterSummary(t, p),
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
    const q = apiParams(p);
    if (kind === 'json') download(`fenghuo-alerts-${stamp}.json`, 'application/json', JSON.stringify({ filter: Object.fromEntries([...new Set(q.keys())].map((k) => [k, q.getAll(k)])), exported_at: new Date().toISOString(), items: all }, null, 2));
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

  return {
    act, report, triageSelection, askAndAct, bulkAll, exportAll, help, closeDialog,
    dialogOpen: () => Boolean(dialog),
  };
}
