// One incident (#/incidents/ID): the attack story, reporting deadline, blast radius, entity graph,
// timeline, alerts, analyst notes and status history with triage, report drafts, STIX bundle.
import { el, mount, timeEl, severityBadge, gradeBadge, gradeLabel, statusLabel, fmtNumber } from '../format.js';
import { t } from '../i18n.js';
import { ApiError } from '../api.js';
import { entityGraph } from '../graph.js';
import {
  countdown, categoryLabel, tenantLink, hostLink, alertHref, canTriage, section, statusBadge, noteServerNow,
} from './incidents.js';

const enc = encodeURIComponent;
const CLOSED = new Set(['resolved', 'false_positive']);

/** Scroll to an alert's row on this page (not a hash link: the hash is the router's). */
function jump(alertId) {
  const row = document.getElementById(`ix-alert-${alertId}`);
  if (!row) return;
  row.scrollIntoView({ block: 'center' });
  row.classList.add('flash');
  setTimeout(() => row.classList.remove('flash'), 1600);
  const a = row.querySelector('a, button');
  if (a) a.focus({ preventScroll: true });
}
function jumpBtn(alertId, text) {
  return el('button', { type: 'button', class: 'linklike mono', title: alertId, onclick: () => jump(alertId) }, text);
}

function dl(rows) {
  return el('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function chips(list, fn) {
  return list && list.length ? el('span', { class: 'chips' }, list.map(fn)) : el('span', { class: 'muted' }, t('common.none'));
}

async function openHtml(ctx, reportId, download) {
  const html = await ctx.api(`/reports/${enc(reportId)}`, { params: { format: 'html' }, headers: { Accept: 'text/html' } });
  const url = URL.createObjectURL(new Blob([html], { type: 'text/html;charset=utf-8' }));
  if (download) {
    const a = el('a', { href: url, download: `report-${reportId}.html` });
    document.body.appendChild(a); a.click(); a.remove();
  } else {
    window.open(url, '_blank', 'noopener');
  }
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** The report drafts of an incident with their submission state (shared with the reports view). */
export function reportRows(ctx, items, { showIncident = false } = {}) {
  return el('div', { class: 'table-wrap' }, el('table', { class: 'data reports' },
    el('thead', {}, el('tr', {},
      el('th', { scope: 'col' }, t('rep.col.kind')),
      showIncident ? el('th', { scope: 'col' }, t('rep.col.incident')) : null,
      el('th', { scope: 'col' }, t('rep.col.tenant')),
      el('th', { scope: 'col' }, t('rep.col.grade')),
      el('th', { scope: 'col' }, t('rep.col.state')),
      el('th', { scope: 'col' }, t('rep.col.due')),
      el('th', { scope: 'col' }, t('rep.col.submitted')),
      el('th', { scope: 'col' }, t('rep.col.actions')))),
    el('tbody', {}, items.map((r) => el('tr', { dataset: { state: r.state, id: r.id } },
      el('td', {}, el('a', { href: `#/reports/${enc(r.id)}` }, t(`rep.kind.${r.kind}`), r.kind === 'update' ? ` #${r.sequence}` : '')),
      showIncident ? el('td', {}, el('a', { href: `#/incidents/${enc(r.incident_id)}`, class: 'mono small' }, r.incident_id.slice(0, 8))) : null,
      el('td', {}, r.tenant_id ? tenantLink(r.tenant_id) : '—'),
      el('td', {}, gradeBadge(r.grade)),
      el('td', {}, el('span', { class: `rstate rstate-${r.state}` }, t(`rep.state.${r.state}`))),
      el('td', {}, r.state === 'submitted' ? timeEl(r.due_at) : countdown(r.due_at, { withTime: true })),
      el('td', {}, r.submitted_at ? el('span', {}, timeEl(r.submitted_at), el('span', { class: 'muted small' }, ` ${r.channel || ''} · ${r.submitted_by || ''}`)) : '—'),
      el('td', { class: 'row-actions' },
        el('button', { type: 'button', class: 'btn small', onclick: (e) => runBtn(e, ctx, () => openHtml(ctx, r.id, false)) }, t('rep.print')),
        el('button', { type: 'button', class: 'btn small ghost', onclick: (e) => runBtn(e, ctx, () => openHtml(ctx, r.id, true)) }, t('rep.downloadHtml'))))))));
}

/** Run an async action from a button; show the API's error next to it. */
export async function runBtn(e, ctx, fn) {
  const btn = e.currentTarget;
  const holder = btn.closest('td, .actions, form, section') || btn.parentNode;
  const old = holder.querySelector(':scope > .problem');
  if (old) old.remove();
  btn.disabled = true;
  try { await fn(); } catch (err) {
    console.warn(err);
    holder.appendChild(ctx.errorBox(err));
  } finally { btn.disabled = false; }
}

function stixSummary(bundle) {
  const counts = new Map();
  for (const o of (bundle && bundle.objects) || []) counts.set(o.type, (counts.get(o.type) || 0) + 1);
  return el('ul', { class: 'chips stix-types' }, [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => el('li', { class: 'chip' }, `${k} × ${n}`)));
}

export default {
  id: 'incident',
  pattern: /^#\/incidents\/([^/?]+)(?:\?.*)?$/,
  nav: null,
  roles: ['admin', 'soc_analyst', 'tenant_viewer'],
  messages: {
    zh: {
      'ix.back': '← 事件列表', 'ix.story': '攻击经过', 'ix.summary': '概述', 'ix.sequences': '攻击序列规则', 'ix.steps': '步骤',
      'ix.category': 'GB/T 20986-2023 类别', 'ix.grade': 'GB/T 20986-2023 分级', 'ix.gradeBasis': '分级依据', 'ix.risk': '风险评分',
      'ix.first': '最早证据', 'ix.last': '最近证据', 'ix.victims': '受害租户', 'ix.actors': '攻击方租户', 'ix.hosts': '宿主机',
      'ix.reporting': '监管报告', 'ix.required': '是否须报告', 'ix.deadline': '报告截止', 'ix.basis': '依据', 'ix.sent': '已报送',
      'ix.notRequired': '按当前分级无须向监管报告（较大 III 级及以上须报告）。',
      'ix.blast': '爆炸半径', 'ix.blast.tenants': '暴露租户', 'ix.blast.vms': '暴露虚拟机', 'ix.blast.hosts': '受影响宿主机', 'ix.blast.res': '共享资源',
      'ix.graph': '实体关系图', 'ix.timeline': '时间线', 'ix.alerts': '关联告警（{n}）', 'ix.triage': '处置', 'ix.history': '分析记录与状态历史',
      'ix.reports': '监管报告草稿与报送状态', 'ix.stix': 'STIX 2.1 数据包',
      'ix.status': '当前状态', 'ix.assignee': '负责人', 'ix.unassigned': '未分配', 'ix.comments': '备注数',
      'ix.act.acknowledge': '确认', 'ix.act.investigate': '开始调查', 'ix.act.resolve': '已解决', 'ix.act.false_positive': '误报', 'ix.act.reopen': '重新打开',
      'ix.act.comment': '添加备注', 'ix.act.assign': '分配', 'ix.note': '备注（状态操作可选；“添加备注”必填）', 'ix.assignTo': '分配给（留空为取消分配）',
      'ix.readonly': '您的角色只能查看，处置由 SOC 分析员或管理员进行。', 'ix.done': '已记录：{a}',
      'ix.kind.acknowledge': '确认', 'ix.kind.investigate': '开始调查', 'ix.kind.resolve': '解决', 'ix.kind.false_positive': '标为误报',
      'ix.kind.reopen': '重新打开', 'ix.kind.comment': '备注', 'ix.kind.assign': '分配', 'ix.kind.suppress_similar': '抑制相似告警',
      'ix.noHistory': '还没有分析记录。', 'ix.noReports': '该事件没有报告草稿（API 未返回任何报告）。',
      'ix.stix.load': '预览 STIX 数据包', 'ix.stix.download': '下载 .json', 'ix.stix.note': '来自 GET /api/v1/incidents/{id}/stix。',
      'ix.stix.objects': '{n} 个对象', 'ix.stix.truncated': '（预览只显示前 {n} 个字符；下载获取完整内容）',
      'ix.col.time': '时间', 'ix.col.sev': '严重性', 'ix.col.detector': '检测器', 'ix.col.title': '告警', 'ix.col.where': '位置', 'ix.col.tenants': '受害方 ← 攻击方',
      'ix.col.technique': 'ATT&CK', 'ix.col.conf': '置信度', 'ix.updated': '此事件有新的变更。', 'ix.step': '序列步骤',
      'rep.col.kind': '报告', 'rep.col.incident': '事件', 'rep.col.tenant': '报告租户', 'rep.col.grade': '分级', 'rep.col.state': '状态',
      'rep.col.due': '截止', 'rep.col.submitted': '报送', 'rep.col.actions': '操作',
      'rep.kind.initial': '初次报告', 'rep.kind.update': '续报', 'rep.kind.closing': '总结报告',
      'rep.state.draft': '草稿', 'rep.state.due': '待报送', 'rep.state.overdue': '已逾期', 'rep.state.submitted': '已报送',
      'rep.print': '打印版', 'rep.downloadHtml': '下载 HTML',
    },
    en: {
      'ix.back': '← Incidents', 'ix.story': 'Attack story', 'ix.summary': 'Summary', 'ix.sequences': 'Attack-sequence rules', 'ix.steps': 'steps',
      'ix.category': 'GB/T 20986-2023 category', 'ix.grade': 'GB/T 20986-2023 grade', 'ix.gradeBasis': 'Grading basis', 'ix.risk': 'Risk score',
      'ix.first': 'Earliest evidence', 'ix.last': 'Latest evidence', 'ix.victims': 'Victim tenants', 'ix.actors': 'Attacker tenants', 'ix.hosts': 'Hosts',
      'ix.reporting': 'Regulator reporting', 'ix.required': 'Must be reported', 'ix.deadline': 'Report due', 'ix.basis': 'Basis', 'ix.sent': 'Sent',
      'ix.notRequired': 'Not reportable at its current grade (III and above must be reported).',
      'ix.blast': 'Blast radius', 'ix.blast.tenants': 'Tenants exposed', 'ix.blast.vms': 'VMs exposed', 'ix.blast.hosts': 'Hosts', 'ix.blast.res': 'Shared resources',
      'ix.graph': 'Entity graph', 'ix.timeline': 'Timeline', 'ix.alerts': 'Alerts ({n})', 'ix.triage': 'Triage', 'ix.history': 'Analyst notes and status history',
      'ix.reports': 'Report drafts and submission state', 'ix.stix': 'STIX 2.1 bundle',
      'ix.status': 'Status', 'ix.assignee': 'Assignee', 'ix.unassigned': 'unassigned', 'ix.comments': 'Notes',
      'ix.act.acknowledge': 'Acknowledge', 'ix.act.investigate': 'Investigate', 'ix.act.resolve': 'Resolve', 'ix.act.false_positive': 'False positive', 'ix.act.reopen': 'Reopen',
      'ix.act.comment': 'Add note', 'ix.act.assign': 'Assign', 'ix.note': 'Note (optional for status actions; required for “Add note”)', 'ix.assignTo': 'Assign to (empty unassigns)',
      'ix.readonly': 'Your role is read-only here; SOC analysts and admins triage.', 'ix.done': 'Recorded: {a}',
      'ix.kind.acknowledge': 'acknowledged', 'ix.kind.investigate': 'investigating', 'ix.kind.resolve': 'resolved', 'ix.kind.false_positive': 'marked false positive',
      'ix.kind.reopen': 'reopened', 'ix.kind.comment': 'note', 'ix.kind.assign': 'assigned', 'ix.kind.suppress_similar': 'suppressed similar',
      'ix.noHistory': 'No analyst actions yet.', 'ix.noReports': 'No report drafts for this incident (the API returned none).',
      'ix.stix.load': 'Preview the STIX bundle', 'ix.stix.download': 'Download .json', 'ix.stix.note': 'From GET /api/v1/incidents/{id}/stix.',
      'ix.stix.objects': '{n} objects', 'ix.stix.truncated': '(the preview shows the first {n} characters; download for all of it)',
      'ix.col.time': 'Time', 'ix.col.sev': 'Severity', 'ix.col.detector': 'Detector', 'ix.col.title': 'Alert', 'ix.col.where': 'Where', 'ix.col.tenants': 'Victim ← actor',
      'ix.col.technique': 'ATT&CK', 'ix.col.conf': 'Confidence', 'ix.updated': 'This incident has changed.', 'ix.step': 'sequence step',
      'rep.col.kind': 'Report', 'rep.col.incident': 'Incident', 'rep.col.tenant': 'Reporting tenant', 'rep.col.grade': 'Grade', 'rep.col.state': 'State',
      'rep.col.due': 'Due', 'rep.col.submitted': 'Submitted', 'rep.col.actions': 'Actions',
      'rep.kind.initial': 'Initial report', 'rep.kind.update': 'Update', 'rep.kind.closing': 'Closing report',
      'rep.state.draft': 'Draft', 'rep.state.due': 'Due', 'rep.state.overdue': 'Overdue', 'rep.state.submitted': 'Submitted',
      'rep.print': 'Printable', 'rep.downloadHtml': 'Download HTML',
    },
  },
  async render(root, match, ctx) {
    const id = decodeURIComponent(match[1]);
    const s = ctx.session();
    const view = await ctx.api(`/incidents/${enc(id)}`);
    const inc = view.incident;
    let state = view.state || {};
    const actors = new Set(inc.actor_tenants || []);
    const victims = new Set(inc.tenants || []);
    const roleTag = (x) => (actors.has(x) ? 'actor' : victims.has(x) ? 'victim' : 'coresident');
    const stepAlerts = new Set(Object.values((inc.details && inc.details.sequence_steps) || {}).flat());

    // ---- header
    const statusBox = el('span', { class: 'inc-status' });
    const drawStatus = () => mount(statusBox, statusBadge(state.status || inc.status),
      el('span', { class: 'muted small' }, ` ${t('ix.assignee')}: ${state.assignee || t('ix.unassigned')}`));
    drawStatus();
    const banner = el('div', { class: 'live-banner', hidden: true, role: 'status' });
    const head = el('div', { class: 'page-head incident-head' },
      el('p', {}, el('a', { href: '#/incidents' }, t('ix.back'))),
      el('h1', {}, inc.title),
      el('div', { class: 'badges' }, severityBadge(inc.severity), gradeBadge(inc.grade), statusBox,
        el('span', { class: 'risk', title: t('ix.risk') }, `${t('ix.risk')} ${fmtNumber(inc.risk_score, 0)}`),
        el('span', { class: 'mono small muted' }, inc.id)));

    // ---- story
    const seqSteps = (inc.details && inc.details.sequence_steps) || {};
    const detOf = new Map((inc.timeline || []).map((e) => [e.alert_id, e.detector]));
    const story = el('section', { class: 'card story', 'aria-labelledby': 'ix-story' },
      el('h2', { id: 'ix-story' }, t('ix.story')),
      el('p', { class: 'summary' }, inc.summary || '—'),
      dl([
        [t('ix.sequences'), inc.sequences && inc.sequences.length
          ? el('ul', { class: 'seq' }, inc.sequences.map((q) => el('li', {}, el('span', { class: 'tag tag-seq' }, q),
            seqSteps[q] ? el('span', { class: 'small' }, ` ${t('ix.steps')}: `, seqSteps[q].map((a, i) => [i ? ' → ' : '', jumpBtn(a, detOf.get(a) || a.slice(0, 8))])) : null)))
          : el('span', { class: 'muted' }, t('common.none'))],
        [t('ix.actors'), chips(inc.actor_tenants, (x) => tenantLink(x, 'chip-actor'))],
        [t('ix.victims'), chips(inc.tenants, (x) => tenantLink(x, 'chip-victim'))],
        [t('ix.hosts'), chips(inc.hosts, hostLink)],
        [t('ix.category'), categoryLabel(inc.category)],
        [t('ix.grade'), gradeLabel(inc.grade)],
        inc.grade_basis ? [t('ix.gradeBasis'), el('span', { class: 'small' }, inc.grade_basis)] : null,
        [t('ix.first'), timeEl(inc.first_seen)],
        [t('ix.last'), timeEl(inc.last_seen)],
      ]));
    const rep = inc.reporting || {};
    const reporting = el('section', { class: 'card reporting', 'aria-labelledby': 'ix-rep' },
      el('h2', { id: 'ix-rep' }, t('ix.reporting')),
      rep.required ? dl([
        [t('ix.required'), t('common.yes')],
        [t('ix.deadline'), countdown(rep.deadline, { withTime: true, done: CLOSED.has(inc.status) })],
        [t('ix.basis'), el('span', { class: 'small' }, rep.basis || '—')],
        [t('ix.sent'), rep.sent && rep.sent.length ? el('ul', {}, rep.sent.map((r) => el('li', {}, el('a', { href: `#/reports/${enc(r)}`, class: 'mono small' }, r)))) : el('span', { class: 'muted' }, t('common.none'))],
      ]) : el('p', { class: 'muted' }, t('ix.notRequired')));
    const br = inc.blast_radius || {};
    const blast = el('section', { class: 'card blast', 'aria-labelledby': 'ix-blast' },
      el('h2', { id: 'ix-blast' }, t('ix.blast')),
      dl([
        [t('ix.blast.tenants'), chips(br.tenants, (x) => el('span', { class: 'chip-wrap' }, tenantLink(x, `chip-${roleTag(x)}`), el('span', { class: `tag tag-${roleTag(x)}` }, t(`graph.role.${roleTag(x)}`))))],
        [t('ix.blast.vms'), chips(br.vms, (v) => el('span', { class: 'chip mono' }, v))],
        [t('ix.blast.hosts'), chips(br.hosts, hostLink)],
        br.resources && br.resources.length ? [t('ix.blast.res'), chips(br.resources, (v) => el('span', { class: 'chip mono' }, v))] : null,
      ]));

    // ---- graph, timeline, triage, alerts, reports, stix
    const graphBox = el('div', { class: 'graph' });
    const timeline = el('section', { class: 'card timeline', 'aria-labelledby': 'ix-tl' },
      el('h2', { id: 'ix-tl' }, t('ix.timeline')),
      el('ol', { class: 'tl' }, [...(inc.timeline || [])].sort((a, b) => a.time.localeCompare(b.time)).map((e) =>
        el('li', { class: `tl-item sev-line-${e.severity}` },
          el('div', { class: 'tl-when' }, timeEl(e.time)),
          el('div', { class: 'tl-what' }, severityBadge(e.severity), ' ', el('span', { class: 'mono' }, e.detector),
            stepAlerts.has(e.alert_id) ? el('span', { class: 'tag tag-seq' }, t('ix.step')) : null,
            el('p', {}, e.summary), jumpBtn(e.alert_id, e.alert_id.slice(0, 8)))))));
    const triageBody = el('div', {});
    const history = el('div', { class: 'history' });
    const triage = el('section', { class: 'card triage', 'aria-labelledby': 'ix-tr' },
      el('h2', { id: 'ix-tr' }, t('ix.triage')), triageBody,
      el('h3', {}, t('ix.history')), history);
    const alertsBox = el('div', {});
    const alertsHead = el('h2', { id: 'ix-al' }, t('ix.alerts', { n: (inc.alert_ids || []).length }));
    const reportsBox = el('div', {});
    const stixBox = el('div', {});

    mount(root, head, banner,
      el('div', { class: 'grid-3' }, story, reporting, blast),
      el('section', { class: 'card graph-card', 'aria-labelledby': 'ix-graph' }, el('h2', { id: 'ix-graph' }, t('ix.graph')), graphBox),
      el('div', { class: 'grid-2' }, timeline, triage),
      el('section', { class: 'card', 'aria-labelledby': 'ix-al' }, alertsHead, alertsBox),
      el('section', { class: 'card', 'aria-labelledby': 'ix-reps' }, el('h2', { id: 'ix-reps' }, t('ix.reports')), reportsBox),
      el('section', { class: 'card', 'aria-labelledby': 'ix-stix' }, el('h2', { id: 'ix-stix' }, t('ix.stix')), stixBox));

    // ---- triage controls
    const loadHistory = () => section(history, ctx, async () => {
      const log = await ctx.api(`/incidents/${enc(id)}/actions`);
      const items = log.items || [];
      mount(history, items.length ? el('ol', { class: 'actions-log' }, items.map((a) => el('li', {},
        timeEl(a.at), ' ', el('strong', {}, t(`ix.kind.${a.kind}`)),
        a.kind === 'assign' ? ` → ${a.assignee || t('ix.unassigned')}` : '',
        el('span', { class: 'muted small' }, ` · ${a.actor} (${t(`role.${a.role}`)})`),
        a.comment ? el('p', { class: 'note' }, a.comment) : null))) : el('p', { class: 'muted' }, t('ix.noHistory')));
    });
    if (canTriage(s)) {
      const note = el('textarea', { id: 'ix-note', rows: 3, maxlength: 10000 });
      const assignee = el('input', { id: 'ix-assignee', type: 'text', maxlength: 200, autocomplete: 'off', value: state.assignee || '' });
      const said = el('p', { class: 'muted small', role: 'status' });
      const act = async (action, extra = {}) => {
        const body = { action, comment: note.value.trim(), ...extra };
        const res = await ctx.api(`/incidents/${enc(id)}/actions`, { method: 'POST', body, headers: { 'Idempotency-Key': crypto.randomUUID() } });
        state = res.state || state;
        drawStatus();
        note.value = '';
        said.textContent = t('ix.done', { a: t(`ix.kind.${action}`) });
        drawButtons();
        loadHistory();
      };
      const buttons = el('div', { class: 'actions' });
      const drawButtons = () => {
        const st = state.status || inc.status;
        const acts = CLOSED.has(st) ? ['reopen'] : ['acknowledge', 'investigate', 'resolve', 'false_positive'].filter((a) => !(a === 'acknowledge' && st !== 'new'));
        mount(buttons, acts.map((a) => el('button', { type: 'button', class: `btn ${a === 'resolve' ? 'primary' : ''}`, dataset: { action: a },
          onclick: (e) => runBtn(e, ctx, () => act(a)) }, t(`ix.act.${a}`))),
        el('button', { type: 'button', class: 'btn ghost', dataset: { action: 'comment' }, onclick: (e) => runBtn(e, ctx, () => act('comment')) }, t('ix.act.comment')));
      };
      drawButtons();
      mount(triageBody,
        el('div', { class: 'field' }, el('label', { for: 'ix-note' }, t('ix.note')), note),
        buttons,
        el('form', { class: 'inline-form', onsubmit: (e) => { e.preventDefault(); runBtn({ currentTarget: e.submitter || e.target.querySelector('button') }, ctx, () => act('assign', { assignee: assignee.value.trim() || null })); } },
          el('label', { for: 'ix-assignee' }, t('ix.assignTo')), assignee,
          el('button', { type: 'submit', class: 'btn' }, t('ix.act.assign'))),
        said);
    } else {
      mount(triageBody, el('p', { class: 'muted' }, t('ix.readonly')));
    }
    loadHistory();

    // ---- alerts
    section(alertsBox, ctx, async () => {
      const res = await ctx.api(`/incidents/${enc(id)}/alerts`);
      const items = [...(res.items || [])].sort((a, b) => a.first_seen.localeCompare(b.first_seen));
      alertsHead.textContent = t('ix.alerts', { n: items.length });
      mount(alertsBox, el('div', { class: 'table-wrap' }, el('table', { class: 'data alerts' },
        el('thead', {}, el('tr', {}, ['ix.col.time', 'ix.col.sev', 'ix.col.detector', 'ix.col.title', 'ix.col.tenants', 'ix.col.where', 'ix.col.technique', 'ix.col.conf']
          .map((k) => el('th', { scope: 'col' }, t(k))))),
        el('tbody', {}, items.map((a) => el('tr', { id: `ix-alert-${a.id}`, dataset: { severity: a.severity } },
          el('td', {}, timeEl(a.first_seen)),
          el('td', {}, severityBadge(a.severity)),
          el('td', { class: 'mono' }, a.detector, stepAlerts.has(a.id) ? el('span', { class: 'tag tag-seq' }, t('ix.step')) : null),
          el('td', {}, el('a', { href: alertHref(a.id) }, a.title), el('p', { class: 'small muted' }, a.summary)),
          el('td', {}, a.tenant_id ? tenantLink(a.tenant_id, 'chip-victim') : '—', a.actor_tenant_id ? [' ← ', tenantLink(a.actor_tenant_id, 'chip-actor')] : null),
          el('td', {}, a.host_id ? hostLink(a.host_id) : '—', a.vm_id ? el('span', { class: 'mono small' }, ` ${a.vm_id}`) : null),
          el('td', {}, a.technique ? el('a', { href: `https://attack.mitre.org/techniques/${a.technique.replace('.', '/')}/`, rel: 'noopener noreferrer', target: '_blank', class: 'mono' }, a.technique) : '—'),
          el('td', {}, fmtNumber(a.confidence, 2))))))));
    });

    // ---- reports
    section(reportsBox, ctx, async () => {
      const res = await ctx.api('/reports', { params: { incident: id } });
      if (res.now) noteServerNow(res.now);
      mount(reportsBox, res.items && res.items.length ? reportRows(ctx, res.items) : el('p', { class: 'muted' }, t('ix.noReports')));
    });

    // ---- STIX (on demand: GET /incidents/{id}/stix)
    const stixOut = el('div', { class: 'stix-out' });
    let bundleText = null;
    const download = () => {
      const url = URL.createObjectURL(new Blob([bundleText], { type: 'application/stix+json;version=2.1' }));
      const a = el('a', { href: url, download: `incident-${id}.stix.json` });
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    };
    const stixLoad = async () => {
      mount(stixOut, el('p', { class: 'muted' }, t('common.loading')));
      try {
        const bundle = await ctx.api(`/incidents/${enc(id)}/stix`, { headers: { Accept: 'application/stix+json;version=2.1, application/json' } });
        const obj = typeof bundle === 'string' ? JSON.parse(bundle) : bundle;
        bundleText = JSON.stringify(obj, null, 2);
        const LIMIT = 60000;
        mount(stixOut,
          el('p', {}, el('strong', {}, t('ix.stix.objects', { n: (obj.objects || []).length })), ' ', el('span', { class: 'mono small' }, obj.id || ''),
            ' ', el('button', { type: 'button', class: 'btn small', onclick: download }, t('ix.stix.download'))),
          stixSummary(obj),
          el('pre', { class: 'code', tabindex: '0' }, bundleText.length > LIMIT ? bundleText.slice(0, LIMIT) : bundleText),
          bundleText.length > LIMIT ? el('p', { class: 'muted small' }, t('ix.stix.truncated', { n: LIMIT })) : null);
      } catch (err) {
        if (!(err instanceof ApiError)) console.warn(err);
        mount(stixOut, ctx.errorBox(err, stixLoad));
      }
    };
    mount(stixBox,
      el('p', { class: 'muted small' }, t('ix.stix.note')),
      el('button', { type: 'button', class: 'btn', onclick: stixLoad }, t('ix.stix.load')),
      stixOut);

    // ---- graph: placements of the incident's hosts, and of hosts its alerts only name (a
    // sweep's targets), so their VMs are grouped too (one GET /hosts, in the caller's scope)
    const namedHosts = (inc.nodes || []).filter((n) => n.type === 'host').map((n) => n.id.slice(n.id.indexOf(':') + 1));
    const hostIds = new Set([...(inc.hosts || []), ...(br.hosts || []), ...namedHosts]);
    const placements = new Map();
    if (hostIds.size) {
      try {
        const hosts = await ctx.api('/hosts');
        for (const h of hosts.items || []) if (hostIds.has(h.host_id)) placements.set(h.host_id, h);
      } catch (err) { console.warn('hosts for the graph', err); }
    }
    if (!ctx.isCurrent()) return null;
    const graph = await entityGraph(graphBox, inc, {
      placements,
      links: (d) => (d.type === 'tenant' ? `#/tenants/${enc(d.full || d.label)}` : d.type === 'host' ? `#/hosts/${enc(d.full || d.label)}` : null),
      onAlert: jump,
    });

    ctx.subscribe('incident', (data) => {
      const changed = data && (data.id || (data.incident && data.incident.id));
      if (changed && changed !== id) return;
      banner.hidden = false;
      mount(banner, t('ix.updated'), ' ', el('button', { type: 'button', class: 'btn small', onclick: () => ctx.navigate(location.hash) }, t('common.reload')));
    });
    return () => graph.destroy();
  },
};
