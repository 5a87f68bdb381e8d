// Fenghuo console — an alert's evidence: the normalised events it names and their raw records
// (GET /alerts/{id}/evidence), loaded as soon as the section is shown. Each event is a native
// <details> (keyboard and screen-reader friendly): one line of who/what/where, and inside the raw
// record as received and the normalised event as JSON. What a tenant viewer may not see is
// decided by the API (withheld, counted); expired or not yet archived ids are listed as such.
import { api } from './api.js';
import { el, mount, timeEl } from './format.js';
import { t, register } from './i18n.js';

register({
  zh: {
    'ev.title': '证据', 'ev.loading': '正在加载证据事件…', 'ev.count': '共 {n} 个事件支持此告警，列出 {l} 个',
    'ev.shown': '显示 {n} 个', 'ev.withheld': '{n} 个属于其他租户或云平台本身，不向此角色显示', 'ev.missing': '{n} 个已超过保留期（{d} 天）或尚未归档',
    'ev.none': '没有可显示的证据事件。', 'ev.raw': '原始记录', 'ev.norm': '标准化事件（JSON）', 'ev.copy': '复制原始记录', 'ev.copied': '已复制',
    'ev.download': '下载证据 JSON', 'ev.source': '来源 {s}，第 {l} 行', 'ev.record': '记录 ID {r}', 'ev.truncated': '原始记录过长，仅保留前 {n} 个字符',
    'ev.noraw': '此事件没有保留原始文本（旧版本采集）。', 'ev.unavailable': '证据暂不可用：{e}', 'ev.missing.ids': '缺失的事件 ID',
    'ev.kind.process_exec': '进程执行', 'ev.kind.seccomp_violation': 'seccomp 违规', 'ev.kind.process_crash': '进程崩溃', 'ev.kind.access_denial': '访问拒绝',
    'ev.kind.file_access': '文件访问', 'ev.kind.syscall': '系统调用', 'ev.kind.host_audit': '主机审计', 'ev.kind.vm_lifecycle': '虚拟机生命周期',
    'ev.kind.container_alert': '容器告警', 'ev.kind.api_call': '云 API 调用', 'ev.kind.flow': '网络流',
  },
  en: {
    'ev.title': 'Evidence', 'ev.loading': 'Loading the evidence events…', 'ev.count': '{n} events support this alert; {l} listed',
    'ev.shown': '{n} shown', 'ev.withheld': '{n} belong to other tenants or the provider and are not shown to this role', 'ev.missing': '{n} past retention ({d} days) or not archived yet',
    'ev.none': 'No evidence events to show.', 'ev.raw': 'Raw record', 'ev.norm': 'Normalised event (JSON)', 'ev.copy': 'Copy raw record', 'ev.copied': 'Copied',
    'ev.download': 'Download evidence JSON', 'ev.source': 'source {s}, line {l}', 'ev.record': 'record id {r}', 'ev.truncated': 'Raw record too long: its first {n} characters are kept',
    'ev.noraw': 'No raw text was kept for this event (an older ingest).', 'ev.unavailable': 'Evidence unavailable: {e}', 'ev.missing.ids': 'Missing event ids',
    'ev.kind.process_exec': 'Process exec', 'ev.kind.seccomp_violation': 'Seccomp violation', 'ev.kind.process_crash': 'Process crash', 'ev.kind.access_denial': 'Access denial',
    'ev.kind.file_access': 'File access', 'ev.kind.syscall': 'Syscall', 'ev.kind.host_audit': 'Host audit', 'ev.kind.vm_lifecycle': 'VM lifecycle',
    'ev.kind.container_alert': 'Container alert', 'ev.kind.api_call': 'Cloud API call', 'ev.kind.flow': 'Network flow',
  },
});

const MAX_RAW = 16384; // fenghuo.model.events.MAX_ORIGINAL

function proc(p) {
  if (!p) return '';
  const cmd = (p.argv && p.argv.length ? p.argv.join(' ') : p.exe || p.comm || '');
  return `${cmd}${p.pid != null ? ` [pid ${p.pid}]` : ''}${p.vm_name ? ` (${p.vm_name})` : ''}`;
}

/** One line saying what happened, from the normalised fields of each kind. */
export function describeEvent(e) {
  switch (e.kind) {
    case 'flow': return `${e.src_addr || '?'}${e.src_port != null ? `:${e.src_port}` : ''} → ${e.dst_addr || '?'}${e.dst_port != null ? `:${e.dst_port}` : ''}${e.action ? ` ${e.action}` : ''}${e.bytes != null ? ` · ${e.bytes} B` : ''}`;
    case 'api_call': {
      const who = e.actor ? (e.actor.user_name || e.actor.role_name || e.actor.arn || e.actor.principal_id || '') : '';
      return `${e.service}:${e.action}${who ? ` · ${who}` : ''}${e.outcome === 'failure' ? ` · ${e.error_code || 'failure'}` : ''}`;
    }
    case 'vm_lifecycle': return `${e.vm_name || '?'} · ${e.state || ''}`;
    case 'container_alert': return `${e.rule || ''}${e.container_id ? ` · ${e.container_id}` : ''}`;
    case 'access_denial': return `${proc(e.process)} · ${(e.permissions || []).join(',')} ${e.target_path || e.target_context || ''}`;
    case 'file_access': return `${proc(e.process)} · ${e.operation} ${(e.paths || []).join(' ')}`;
    case 'seccomp_violation': return `${proc(e.process)} · ${e.syscall || e.syscall_nr || ''}`;
    case 'process_crash': return `${proc(e.process)} · ${e.signal_name || e.signal}`;
    case 'syscall': return `${proc(e.process)} · ${e.syscall || ''}${e.address ? ` ${e.address}` : ''}`;
    default: return proc(e.process) || e.record_type || '';
  }
}

function copyButton(text) {
  const b = el('button', { type: 'button', class: 'btn small' }, t('ev.copy'));
  b.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(text); b.textContent = t('ev.copied'); } catch { /* no clipboard: select by hand */ }
  });
  return b;
}

function eventItem(e, open) {
  const raw = e.raw || {};
  const where = [raw.source && t('ev.source', { s: raw.source, l: raw.line ?? '—' }), raw.record_id && t('ev.record', { r: raw.record_id })].filter(Boolean).join(' · ');
  const rawBlock = raw.original
    ? [el('pre', { class: 'code raw', tabindex: '0', 'aria-label': t('ev.raw') }, raw.original),
      raw.original_truncated ? el('p', { class: 'small notice' }, t('ev.truncated', { n: MAX_RAW })) : null,
      copyButton(raw.original)]
    : el('p', { class: 'muted small' }, t('ev.noraw'));
  const details = el('details', { class: 'evidence-event', dataset: { id: e.id } },
    el('summary', {},
      timeEl(e.event_time), ' ',
      el('span', { class: 'tag' }, t(`ev.kind.${e.kind}`) === `ev.kind.${e.kind}` ? e.kind : t(`ev.kind.${e.kind}`)), ' ',
      el('span', { class: 'muted small' }, [e.source_format, e.host_id, e.tenant_id].filter(Boolean).join(' · ')), ' ',
      el('span', {}, describeEvent(e))),
    el('h4', {}, t('ev.raw')), where ? el('p', { class: 'small muted' }, where) : null, rawBlock,
    el('h4', {}, t('ev.norm')), el('pre', { class: 'code', tabindex: '0', 'aria-label': t('ev.norm') }, JSON.stringify(e, null, 2)));
  if (open) details.open = true;
  return details;
}

function download(name, doc) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
  const a = el('a', { href: url, download: name, class: 'visually-hidden' }, name);
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

/** The section for one alert: returns at once, fills itself when the API answers. */
export function evidencePanel(alertId) {
  const body = el('div', { class: 'evidence', 'aria-live': 'polite' }, el('p', { class: 'muted' }, t('ev.loading')));
  const section = el('section', { class: 'evidence-section' }, el('h3', {}, t('ev.title')), body);
  api(`/alerts/${encodeURIComponent(alertId)}/evidence`).then((doc) => {
    const events = doc.events || [];
    const facts = [t('ev.count', { n: doc.evidence_count, l: doc.listed }), t('ev.shown', { n: events.length })];
    if (doc.withheld) facts.push(t('ev.withheld', { n: doc.withheld }));
    if ((doc.missing || []).length) facts.push(t('ev.missing', { n: doc.missing.length, d: doc.retention_days }));
    mount(body,
      el('p', { class: 'small evidence-facts' }, facts.join(' · ')),
      events.length ? el('div', { class: 'evidence-list' }, events.map((e, i) => eventItem(e, i === 0 && events.length <= 3))) : el('p', { class: 'muted' }, t('ev.none')),
      (doc.missing || []).length ? el('details', { class: 'small' }, el('summary', {}, t('ev.missing.ids')), el('ul', { class: 'list' }, doc.missing.map((id) => el('li', {}, el('code', {}, id))))) : null,
      el('button', { type: 'button', class: 'btn small', onclick: () => download(`fenghuo-evidence-${alertId}.json`, doc) }, t('ev.download')));
  }).catch((e) => {
    mount(body, el('p', { class: 'notice', role: 'status' }, t('ev.unavailable', { e: e.message || String(e) })));
  });
  return section;
}
