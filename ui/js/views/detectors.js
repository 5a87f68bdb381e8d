// Detectors (#/detectors): catalogue with ATT&CK technique, GB/T category, status, hit counts,
// false-positive marks (alerts analysts marked so) and the suppressions in force.
import { el, mount, timeEl, severityBadge, fmtNumber } from '../format.js';
import { t } from '../i18n.js';
import { categoryLabel, canTriage, section, tenantLink, hostLink } from './incidents.js';
import { runBtn } from './incident.js';

const enc = encodeURIComponent;

export default {
  id: 'detectors',
  pattern: /^#\/detectors\/?(?:\?.*)?$/,
  nav: { zh: '检测器', en: 'Detectors' },
  roles: ['admin', 'soc_analyst', 'tenant_viewer'],
  messages: {
    zh: {
      'det.title': '检测器目录', 'det.col.id': '检测器', 'det.col.sev': '严重性', 'det.col.tech': 'ATT&CK 技术', 'det.col.cat': 'GB/T 20986-2023 类别',
      'det.col.status': '状态', 'det.col.hits': '命中', 'det.col.last': '最近命中（证据时间）', 'det.col.fp': '误报标记', 'det.col.supp': '生效中的抑制',
      'det.fp.note': '误报标记 = 被分析员标为“误报”的告警数（GET /alerts?status=false_positive，您可见的范围内）。',
      'det.fp.more': '≥{n}', 'det.supp': '生效中的抑制规则', 'det.supp.none': '没有生效中的抑制规则。',
      'det.s.col.detector': '检测器', 'det.s.col.tenant': '租户', 'det.s.col.host': '宿主机', 'det.s.col.reason': '原因', 'det.s.col.by': '创建者',
      'det.s.col.at': '创建时间', 'det.s.col.until': '到期', 'det.s.forever': '直至撤销', 'det.s.revoke': '撤销', 'det.s.revoked': '已撤销',
      'det.s.any': '任意', 'det.hits.scope': '命中数为您可见范围内的告警。',
    },
    en: {
      'det.title': 'Detector catalogue', 'det.col.id': 'Detector', 'det.col.sev': 'Severity', 'det.col.tech': 'ATT&CK technique', 'det.col.cat': 'GB/T 20986-2023 category',
      'det.col.status': 'Status', 'det.col.hits': 'Hits', 'det.col.last': 'Last hit (evidence time)', 'det.col.fp': 'False-positive marks', 'det.col.supp': 'Suppressions in force',
      'det.fp.note': 'False-positive marks = alerts analysts marked “false positive” (GET /alerts?status=false_positive, within what you may see).',
      'det.fp.more': '≥{n}', 'det.supp': 'Suppression rules in force', 'det.supp.none': 'No suppression rules in force.',
      'det.s.col.detector': 'Detector', 'det.s.col.tenant': 'Tenant', 'det.s.col.host': 'Host', 'det.s.col.reason': 'Reason', 'det.s.col.by': 'Created by',
      'det.s.col.at': 'Created', 'det.s.col.until': 'Until', 'det.s.forever': 'until revoked', 'det.s.revoke': 'Revoke', 'det.s.revoked': 'revoked',
      'det.s.any': 'any', 'det.hits.scope': 'Hit counts are of the alerts you may see.',
    },
  },
  async render(root, match, ctx) {
    const s = ctx.session();
    const [dets, supp] = await Promise.all([
      ctx.api('/detectors'),
      ctx.api('/suppressions').catch((e) => e),
    ]);
    const fpCount = new Map();
    let fpPartial = false;
    try {
      const fp = await ctx.api('/alerts', { params: { status: ['false_positive'], limit: 500 } });
      for (const it of fp.items || []) fpCount.set(it.alert.detector, (fpCount.get(it.alert.detector) || 0) + 1);
      fpPartial = Boolean(fp.next_cursor);
    } catch (e) { console.warn('false positives', e); }
    const rules = supp instanceof Error ? [] : (supp.items || []);
    const suppBy = new Map();
    for (const r of rules) suppBy.set(r.detector, (suppBy.get(r.detector) || 0) + 1);
    const items = [...(dets.items || [])].sort((a, b) => b.hits - a.hits || a.id.localeCompare(b.id));
    const suppBox = el('div', {});
    mount(root,
      el('div', { class: 'page-head' }, el('h1', {}, t('det.title')), el('span', { class: 'muted small' }, t('det.hits.scope'))),
      el('div', { class: 'table-wrap' }, el('table', { class: 'data detectors' },
        el('thead', {}, el('tr', {}, ['det.col.id', 'det.col.sev', 'det.col.tech', 'det.col.cat', 'det.col.status', 'det.col.hits', 'det.col.last', 'det.col.fp', 'det.col.supp']
          .map((k) => el('th', { scope: 'col', class: ['det.col.hits', 'det.col.fp', 'det.col.supp'].includes(k) ? 'num' : null }, t(k))))),
        el('tbody', {}, items.map((d) => el('tr', { dataset: { detector: d.id } },
          el('td', {}, el('div', { class: 'mono' }, d.id), el('div', { class: 'small' }, d.title)),
          el('td', {}, severityBadge(d.severity)),
          el('td', {}, d.technique ? el('a', { href: `https://attack.mitre.org/techniques/${d.technique.replace('.', '/')}/`, target: '_blank', rel: 'noopener noreferrer', class: 'mono' }, d.technique) : '—'),
          el('td', {}, categoryLabel(d.category)),
          el('td', {}, el('span', { class: `det-status det-status-${d.status}` }, d.status)),
          el('td', { class: 'num' }, d.hits ? el('a', { href: `#/alerts?detector=${enc(d.id)}` }, fmtNumber(d.hits)) : '0'),
          el('td', {}, d.last_hit ? timeEl(d.last_hit) : '—'),
          el('td', { class: 'num' }, fpCount.get(d.id) ? (fpPartial ? t('det.fp.more', { n: fpCount.get(d.id) }) : fmtNumber(fpCount.get(d.id))) : '0'),
          el('td', { class: 'num' }, fmtNumber(suppBy.get(d.id) || 0))))))),
      el('p', { class: 'muted small' }, t('det.fp.note')),
      el('section', { class: 'card' }, el('h2', {}, t('det.supp')), suppBox));
    const drawSupp = (list) => mount(suppBox, list.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'data' },
      el('thead', {}, el('tr', {}, ['det.s.col.detector', 'det.s.col.tenant', 'det.s.col.host', 'det.s.col.reason', 'det.s.col.by', 'det.s.col.at', 'det.s.col.until', '']
        .map((k) => el('th', { scope: 'col' }, k ? t(k) : '')))),
      el('tbody', {}, list.map((r) => el('tr', {},
        el('td', { class: 'mono' }, r.detector),
        el('td', {}, r.tenant_id ? tenantLink(r.tenant_id) : t('det.s.any')),
        el('td', {}, r.host_id ? hostLink(r.host_id) : t('det.s.any')),
        el('td', {}, r.reason || '—'),
        el('td', { class: 'mono small' }, r.created_by),
        el('td', {}, timeEl(r.created_at)),
        el('td', {}, r.until ? timeEl(r.until) : t('det.s.forever')),
        el('td', {}, canTriage(s) ? el('button', { type: 'button', class: 'btn small danger', onclick: (e) => runBtn(e, ctx, async () => {
          await ctx.api(`/suppressions/${enc(r.id)}`, { method: 'DELETE' });
          e.target.closest('tr').classList.add('revoked');
          e.target.replaceWith(el('span', { class: 'muted' }, t('det.s.revoked')));
        }) }, t('det.s.revoke')) : null)))))) : el('p', { class: 'muted' }, t('det.supp.none')));
    if (supp instanceof Error) mount(suppBox, ctx.errorBox(supp));
    else drawSupp(rules);
    void section;
    return null;
  },
};
