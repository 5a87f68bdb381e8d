// Alert queue: the detail drawer of one alert (fields with filter buttons, entities, evidence,
// details, action log, triage buttons).
import { el, mount, timeEl, severityBadge, statusLabel } from '../format.js';
import { rowAlert } from './alerts_params.js';
import { ACTION_LABEL } from './alerts_bulk.js';
import { evidencePanel } from '../evidence.js';

/**
 * env: { ctx, canTriage, fv(key, value) (filter buttons), actions (act, report, askAndAct),
 *        st (rows, cur, selected), status (element), tbody, drawRows() }
 */
export function createDrawer(env) {
  const { ctx, fv, st, status } = env;
  const { api, t } = ctx;
  let drawer = null;

  function close() { if (drawer) { drawer.remove(); drawer = null; } }
  async function open(id) {
    if (!drawer) {
      drawer = el('aside', { class: 'drawer', role: 'complementary', 'aria-label': t('aq.d.fields'), tabindex: '-1' });
      document.body.appendChild(drawer);
    }
    drawer.dataset.id = id;
    mount(drawer, el('p', { class: 'muted' }, t('loading')));
    let one; let log;
    try {
      [one, log] = await Promise.all([api(`/alerts/${encodeURIComponent(id)}`), api(`/alerts/${encodeURIComponent(id)}/actions`).catch((e) => ({ error: e }))]);
    } catch (e) { if (drawer) mount(drawer, el('button', { type: 'button', class: 'btn small close', onclick: close, 'aria-label': t('aq.d.close') }, '✕'), ctx.errorBox(e)); return; }
    if (!drawer || drawer.dataset.id !== id) return;
    const { alert: a, state: stt = {} } = rowAlert(one);
    const { act, report, askAndAct } = env.actions;
    const kv = (k, v) => [el('dt', {}, k), el('dd', {}, v ?? '—')];
    const logItems = log.error ? ctx.errorBox(log.error) : (log.items || []).length ? el('ul', { class: 'list log' }, log.items.map((x) => el('li', {},
      el('span', {}, el('strong', {}, x.action || x.kind || '?'), ' · ', x.actor || x.by || x.key_name || x.submitted_by || '', ' · ', timeEl(x.at || x.created_at || x.time)),
      x.assignee ? el('span', { class: 'small' }, `→ ${x.assignee}`) : null, x.comment ? el('span', { class: 'small' }, x.comment) : null,
      x.until ? el('span', { class: 'small muted' }, ['⏱ ', timeEl(x.until)]) : null))) : el('p', { class: 'muted' }, t('aq.d.nolog'));
    mount(drawer,
      el('button', { type: 'button', class: 'btn small close', onclick: () => { close(); const tr = env.tbody.children[st.cur]; if (tr) tr.focus(); }, 'aria-label': t('aq.d.close') }, '✕'),
      el('div', { class: 'row gap' }, severityBadge(a.severity), el('span', { class: `status status-${stt.status}` }, statusLabel(stt.status))),
      el('h2', {}, a.title),
      el('p', {}, a.summary),
      el('section', {}, el('h3', {}, t('aq.d.fields')), el('dl', { class: 'kv' },
        kv(t('aq.detector'), el('span', { class: 'cellv' }, el('span', { class: 'mono' }, a.detector), fv('detector', a.detector))),
        kv(t('aq.d.victim'), el('span', { class: 'cellv' }, a.tenant_id, fv('tenant', a.tenant_id))),
        a.actor_tenant_id ? kv(t('aq.d.actor'), el('span', { class: 'cellv' }, a.actor_tenant_id, fv('tenant', a.actor_tenant_id))) : null,
        kv(t('aq.host'), a.host_id ? el('span', { class: 'cellv' }, el('a', { href: `#/hosts/${encodeURIComponent(a.host_id)}`, class: 'mono' }, a.host_id), fv('host', a.host_id)) : '—'),
        kv(t('aq.d.vm'), a.vm_id), kv(t('aq.d.technique'), a.technique), kv(t('aq.d.category'), a.category), kv(t('aq.d.confidence'), a.confidence),
        kv(t('aq.d.first'), timeEl(a.first_seen)), kv(t('aq.col.time'), timeEl(a.last_seen)), kv(t('aq.d.detected'), timeEl(a.detected_at)),
        kv(t('aq.d.assignee'), stt.assignee), kv('ID', el('code', {}, a.id)))),
      env.canTriage ? el('section', {}, el('h3', {}, t('aq.d.actions')), el('div', { class: 'row gap' },
        ['acknowledge', 'investigate', 'resolve', 'false_positive', 'reopen'].map((x) => el('button', { type: 'button', class: 'btn small', onclick: async () => {
          try { await act(a.id, { action: x }); status.textContent = t('aq.done', { ok: 1, bad: 0 }); } catch (e) { report({ ok: 0, bad: 1, firstErr: e }); }
          const r = st.rows.find((y) => y.alert.id === a.id); if (r) { try { r.state = rowAlert(await api(`/alerts/${encodeURIComponent(a.id)}`)).state; } catch { /* shown on reopen */ } env.drawRows(); }
          open(a.id);
        } }, t(ACTION_LABEL[x]))),
        ['assign', 'comment', 'suppress_similar'].map((x) => el('button', { type: 'button', class: 'btn small', onclick: () => { st.selected.clear(); st.selected.add(a.id); env.drawRows(); askAndAct(x); } }, t(ACTION_LABEL[x]))))) : null,
      el('section', {}, el('h3', {}, t('aq.d.entities')), el('ul', { class: 'list' }, (a.entities || []).map((en) => el('li', {}, el('span', { class: 'small muted' }, en.type), el('span', { class: 'entity grow' }, en.id),
        en.type === 'host' ? fv('host', en.id) : en.type === 'tenant' ? fv('tenant', en.id) : null)))),
      evidencePanel(a.id), // the events it names, normalised and raw
      a.details ? el('section', {}, el('h3', {}, t('aq.d.details')), el('pre', {}, JSON.stringify(a.details, null, 2))) : null,
      el('section', {}, el('h3', {}, t('aq.d.log')), logItems));
  }

  return { open, close, isOpen: () => Boolean(drawer), currentId: () => (drawer ? drawer.dataset.id : null) };
}
