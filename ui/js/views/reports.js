// Reports and feed (#/reports, #/reports/ID): regulator reports due / overdue / submitted with
// live countdowns, section editing and submission (roles that may), the TAXII collections (admins),
// the TAXII discovery and granted collections (regulators), and what is known of push delivery.
import { el, mount, timeEl, gradeBadge } from '../format.js';
import { t, lang } from '../i18n.js';
import { countdown, noteServerNow, canTriage, section, tenantLink, categoryLabel } from './incidents.js';
import { reportRows, runBtn } from './incident.js';

const enc = encodeURIComponent;
const TAXII = 'application/taxii+json;version=2.1';

async function feed(box, ctx) {
  const s = ctx.session();
  const parts = [];
  if (s.role === 'admin') {
    const res = await ctx.api('/collections');
    const items = res.items || [];
    parts.push(el('h3', {}, t('rp.collections')), items.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'data' },
      el('thead', {}, el('tr', {}, ['rp.c.title', 'rp.c.tlp', 'rp.c.ids', 'rp.c.filter', 'rp.c.readers', 'rp.c.created'].map((k) => el('th', { scope: 'col' }, t(k))))),
      el('tbody', {}, items.map((c) => el('tr', {},
        el('td', {}, el('div', {}, c.title), el('div', { class: 'mono small muted' }, `${c.id}${c.alias ? ` · ${c.alias}` : ''}`)),
        el('td', {}, el('span', { class: `tag tlp tlp-${c.tlp}` }, `TLP:${String(c.tlp).toUpperCase()}`)),
        el('td', {}, t(`rp.ids.${c.identities}`)),
        el('td', { class: 'small' }, filterText(c.filter, c.own_tenant)),
        el('td', { class: 'num' }, String((c.readers || []).length)),
        el('td', {}, timeEl(c.created_at))))))) : el('p', { class: 'muted' }, t('rp.c.none')));
  }
  if (s.role === 'regulator' || s.role === 'admin') {
    const disc = await ctx.api('/taxii2/', { headers: { Accept: TAXII } });
    let cols = null; let colErr = null;
    const rootPath = disc.default || (disc.api_roots || [])[0];
    if (rootPath) {
      try { cols = await ctx.api(`${new URL(rootPath, location.origin).pathname}collections/`, { headers: { Accept: TAXII } }); } catch (e) { colErr = e; }
    }
    parts.push(el('h3', {}, t('rp.taxii')),
      el('dl', { class: 'kv' },
        el('dt', {}, t('rp.t.title')), el('dd', {}, disc.title || '—'),
        el('dt', {}, t('rp.t.discovery')), el('dd', { class: 'mono' }, `${location.origin}/taxii2/`),
        el('dt', {}, t('rp.t.roots')), el('dd', {}, (disc.api_roots || []).map((r) => el('div', { class: 'mono' }, new URL(r, location.origin).href))),
        disc.description ? [el('dt', {}, t('rp.t.desc')), el('dd', { class: 'small' }, disc.description)] : null),
      el('h4', {}, t('rp.t.granted')),
      colErr ? ctx.errorBox(colErr) : (cols && (cols.collections || []).length ? el('ul', {}, cols.collections.map((c) => el('li', {},
        el('span', {}, c.title), ' ', el('span', { class: 'mono small muted' }, c.id), ' ',
        el('span', { class: 'small' }, `${c.can_read ? t('rp.t.read') : ''}${c.can_write ? ` · ${t('rp.t.write')}` : ''}`),
        el('div', { class: 'mono small' }, `${new URL(rootPath, location.origin).href}collections/${c.id}/objects/`)))) : el('p', { class: 'muted' }, t('rp.t.nocols'))),
      el('p', { class: 'small muted' }, t('rp.t.client')));
  }
  if (s.role === 'admin' || s.role === 'soc_analyst') {
    // The pusher's delivery log as the API reads it (GET /api/v1/feed/deliveries).
    let log = null; let logErr = null;
    try { log = await ctx.api('/feed/deliveries', { params: { limit: 20 } }); } catch (e) { logErr = e; }
    const batches = log ? [...(log.items || [])].reverse() : [];
    parts.push(el('h3', {}, t('rp.push')),
      logErr ? ctx.errorBox(logErr) : (batches.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'data' },
        el('thead', {}, el('tr', {}, ['rp.d.opened', 'rp.d.remote', 'rp.d.size', 'rp.d.outcome', 'rp.d.attempts', 'rp.d.last'].map((k) => el('th', { scope: 'col' }, t(k))))),
        el('tbody', {}, batches.map((b) => {
          const last = b.attempts[b.attempts.length - 1];
          const lastText = last ? [last.status || last.outcome || '', last.total !== null && last.total !== undefined ? `${last.success}/${last.total}` : '', last.error || ''].filter(Boolean).join(' · ') : '—';
          return el('tr', {},
            el('td', {}, timeEl(b.opened_at)),
            el('td', { class: 'mono small' }, b.remote_url),
            el('td', { class: 'num' }, String(b.size)),
            el('td', {}, el('span', { class: `tag outcome-${b.outcome}` }, b.outcome)),
            el('td', { class: 'num' }, String(b.attempts.length)),
            el('td', { class: 'small' }, lastText));
        })))) : el('p', { class: 'muted' }, t(log && log.configured ? 'rp.push.empty' : 'rp.push.off'))));
  }
  mount(box, parts);
}

function filterText(f, own) {
  const bits = [];
  if (f && f.min_grade) bits.push(`≥ ${f.min_grade}`);
  if (f && f.min_severity) bits.push(`≥ ${t(`sev.${f.min_severity}`)}`);
  if (f && f.reportable_only) bits.push(t('rp.f.reportable'));
  if (f && f.tenants && f.tenants.length) bits.push(`${t('rp.f.tenants')}: ${f.tenants.join(', ')}`);
  if (f && f.provinces && f.provinces.length) bits.push(`${t('rp.f.provinces')}: ${f.provinces.join(', ')}`);
  if (own) bits.push(`${t('rp.f.own')}: ${own}`);
  return bits.length ? bits.join(' · ') : t('rp.f.all');
}

async function list(root, ctx) {
  const res = await ctx.api('/reports');
  if (res.now) noteServerNow(res.now);
  const items = res.items || [];
  const by = (st) => items.filter((r) => r.state === st);
  const feedBox = el('div', {});
  const group = (st) => {
    const rows = by(st);
    return el('section', { class: `card reports-${st}`, 'aria-labelledby': `rp-${st}` },
      el('h2', { id: `rp-${st}`, class: 'group-head' }, t(`rp.g.${st}`), el('span', { class: 'aside' }, String(rows.length))),
      rows.length ? reportRows(ctx, rows, { showIncident: true }) : el('p', { class: 'muted' }, t('rp.g.none')));
  };
  mount(root,
    el('div', { class: 'page-head' }, el('h1', {}, t('rp.title')), el('span', { class: 'muted small' }, t('rp.now'), ' ', timeEl(res.now))),
    el('p', { class: 'muted small' }, t('rp.rules')),
    group('overdue'), group('due'), group('draft'), group('submitted'),
    el('section', { class: 'card', 'aria-labelledby': 'rp-feed' }, el('h2', { id: 'rp-feed' }, t('rp.feed')), feedBox));
  section(feedBox, ctx, () => feed(feedBox, ctx));
}

async function detail(root, ctx, id) {
  const s = ctx.session();
  let r = await ctx.api(`/reports/${enc(id)}`);
  const body = el('div', {});
  const draw = () => {
    const editable = canTriage(s) && r.state !== 'submitted';
    const en = lang() === 'en';
    const areas = new Map();
    const secs = el('div', { class: 'report-sections' }, (r.sections || []).map((x) => {
      const zh = el('textarea', { id: `sec-${x.key}-zh`, rows: 4, lang: 'zh-CN', value: x.zh, readonly: !editable });
      const enA = el('textarea', { id: `sec-${x.key}-en`, rows: 4, lang: 'en', value: x.en, readonly: !editable });
      zh.value = x.zh || ''; enA.value = x.en || '';
      areas.set(x.key, [zh, enA, x]);
      return el('div', { class: 'sec' },
        el('h3', {}, en ? x.title_en : x.title_zh, el('span', { class: 'muted small' }, en ? x.title_zh : x.title_en),
          x.first ? el('span', { class: 'tag' }, t('rp.first')) : null, x.required ? null : el('span', { class: 'tag' }, t('rp.optional'))),
        editable ? el('div', { class: 'pair' },
          el('div', { class: 'field' }, el('label', { for: `sec-${x.key}-zh` }, t('rp.zh')), zh),
          el('div', { class: 'field' }, el('label', { for: `sec-${x.key}-en` }, t('rp.en')), enA))
          : el('div', { class: 'pair' }, el('p', { class: 'text', lang: 'zh-CN' }, x.zh || '—'), el('p', { class: 'text', lang: 'en' }, x.en || '—')));
    }));
    const said = el('p', { class: 'muted small', role: 'status' });
    const save = async () => {
      const changed = {};
      for (const [k, [zh, enA, x]] of areas) {
        if (zh.value !== (x.zh || '') || enA.value !== (x.en || '')) changed[k] = { zh: zh.value, en: enA.value };
      }
      if (!Object.keys(changed).length) { said.textContent = t('rp.nochange'); return; }
      r = await ctx.api(`/reports/${enc(id)}`, { method: 'PATCH', body: { sections: changed } });
      draw();
      body.querySelector('[role=status]').textContent = t('rp.saved');
    };
    const channel = el('input', { id: 'rp-channel', type: 'text', required: true, maxlength: 200, autocomplete: 'off' });
    const who = el('input', { id: 'rp-by', type: 'text', maxlength: 200, autocomplete: 'off' });
    const submit = async () => {
      if (!channel.value.trim()) { channel.focus(); said.textContent = t('rp.channel.need'); return; }
      r = await ctx.api(`/reports/${enc(id)}/submit`, { method: 'POST', body: { channel: channel.value.trim(), submitted_by: who.value.trim() || null } });
      draw();
    };
    mount(body,
      el('section', { class: 'card' }, el('dl', { class: 'kv' },
        el('dt', {}, t('rp.d.incident')), el('dd', {}, el('a', { href: `#/incidents/${enc(r.incident_id)}`, class: 'mono' }, r.incident_id)),
        el('dt', {}, t('rep.col.tenant')), el('dd', {}, r.tenant_id ? tenantLink(r.tenant_id) : '—'),
        el('dt', {}, t('rep.col.grade')), el('dd', {}, gradeBadge(r.grade), ' ', categoryLabel(r.category)),
        el('dt', {}, t('rep.col.state')), el('dd', {}, el('span', { class: `rstate rstate-${r.state}` }, t(`rep.state.${r.state}`))),
        el('dt', {}, t('rep.col.due')), el('dd', {}, r.state === 'submitted' ? timeEl(r.due_at) : countdown(r.due_at, { withTime: true })),
        el('dt', {}, t('rp.d.basis')), el('dd', { class: 'small' }, r.basis || '—'),
        el('dt', {}, t('rep.col.submitted')), el('dd', {}, r.submitted_at ? [timeEl(r.submitted_at), ` · ${r.channel || ''} · ${r.submitted_by || ''}`] : '—'),
        el('dt', {}, t('rp.d.updated')), el('dd', {}, timeEl(r.updated_at), r.edited_by ? el('span', { class: 'muted small' }, ` · ${r.edited_by}`) : null)),
      el('div', { class: 'actions' })),
      secs,
      editable ? el('section', { class: 'card' },
        el('div', { class: 'actions' }, el('button', { type: 'button', class: 'btn', onclick: (e) => runBtn(e, ctx, save) }, t('rp.save'))),
        el('h3', {}, t('rp.submit.h')),
        el('form', { class: 'inline-form', onsubmit: (e) => { e.preventDefault(); runBtn({ currentTarget: e.target.querySelector('button') }, ctx, submit); } },
          el('label', { for: 'rp-channel' }, t('rp.channel')), channel,
          el('label', { for: 'rp-by' }, t('rp.by')), who,
          el('button', { type: 'submit', class: 'btn primary' }, t('rp.submit'))),
        said) : el('p', { class: 'muted' }, r.state === 'submitted' ? t('rp.locked') : t('rp.readonly')));
    // printable / download buttons (same as in the lists)
    const acts = body.querySelector('.card .actions');
    mount(acts, ...reportRows(ctx, [r]).querySelector('.row-actions').childNodes);
  };
  mount(root,
    el('div', { class: 'page-head' }, el('p', {}, el('a', { href: '#/reports' }, t('rp.back'))),
      el('h1', {}, t(`rep.kind.${r.kind}`), r.kind === 'update' ? ` #${r.sequence}` : '', el('span', { class: 'mono small muted' }, ` ${r.id}`))),
    body);
  draw();
}

export default {
  id: 'reports',
  pattern: /^#\/reports(?:\/([^/?]+))?\/?(?:\?.*)?$/,
  nav: { zh: '报告与上报', en: 'Reports & feed' },
  roles: ['admin', 'soc_analyst', 'tenant_viewer', 'regulator'],
  messages: {
    zh: {
      'rp.title': '监管报告与情报推送', 'rp.now': '服务器时间', 'rp.back': '← 全部报告',
      'rp.rules': '较大（III 级）及以上事件须报告：涉及关键信息基础设施 1 小时内、国家机关 2 小时内、其他 4 小时内；处置结束后 30 日内提交总结报告。倒计时按服务器时钟。',
      'rp.g.overdue': '已逾期', 'rp.g.due': '待报送', 'rp.g.draft': '草稿（尚未到期）', 'rp.g.submitted': '已报送', 'rp.g.none': '无。',
      'rp.feed': '情报推送（STIX 2.1 / TAXII 2.1）', 'rp.collections': 'TAXII 集合（管理员）',
      'rp.c.title': '集合', 'rp.c.tlp': 'TLP', 'rp.c.ids': '身份', 'rp.c.filter': '筛选', 'rp.c.readers': '授权密钥', 'rp.c.created': '创建时间', 'rp.c.none': '还没有集合。',
      'rp.ids.pseudonymous': '租户以化名出现', 'rp.ids.named': '显示租户身份', 'rp.ids.granted': '已授权身份',
      'rp.f.reportable': '仅须报告的', 'rp.f.tenants': '租户', 'rp.f.provinces': '省份', 'rp.f.own': '本租户集合', 'rp.f.all': '全部事件',
      'rp.taxii': 'TAXII 2.1 发现信息', 'rp.t.title': '服务名称', 'rp.t.discovery': '发现地址', 'rp.t.roots': 'API 根', 'rp.t.desc': '说明',
      'rp.t.granted': '授予本密钥的集合', 'rp.t.read': '可读', 'rp.t.write': '可写', 'rp.t.nocols': '没有授予本密钥的集合。',
      'rp.t.client': 'TAXII 客户端使用同一 API 密钥（Bearer，或 HTTP Basic 以密钥为密码）。',
      'rp.push': '推送投递状态', 'rp.push.empty': '已配置推送，尚未投递任何批次。', 'rp.push.off': '本服务未配置推送（FENGHUO_FEED_PUSH_*），也没有投递记录。',
      'rp.d.opened': '批次开始', 'rp.d.remote': '对方集合', 'rp.d.size': '对象数', 'rp.d.outcome': '结果', 'rp.d.attempts': '尝试次数', 'rp.d.last': '最近一次',
      'rp.first': '可先行报告', 'rp.optional': '可选', 'rp.zh': '中文（报送）', 'rp.en': 'English（对照）',
      'rp.save': '保存修改', 'rp.saved': '已保存。', 'rp.nochange': '没有修改。', 'rp.submit.h': '标记为已报送', 'rp.channel': '报送渠道（如 12387 平台、电话）',
      'rp.by': '报送人（留空为当前密钥）', 'rp.submit': '标记已报送', 'rp.channel.need': '请填写报送渠道。',
      'rp.locked': '已报送的报告不能再修改。', 'rp.readonly': '您的角色只能查看此报告。',
      'rp.d.incident': '事件', 'rp.d.basis': '时限依据', 'rp.d.updated': '最后修改',
    },
    en: {
      'rp.title': 'Regulator reports and feed', 'rp.now': 'Server time', 'rp.back': '← All reports',
      'rp.rules': 'Incidents graded III (relatively serious) and above must be reported: within 1 h for critical information infrastructure, 2 h for state organs, 4 h otherwise; a closing report within 30 days after handling ends. Countdowns follow the server clock.',
      'rp.g.overdue': 'Overdue', 'rp.g.due': 'Due', 'rp.g.draft': 'Drafts (not yet due)', 'rp.g.submitted': 'Submitted', 'rp.g.none': 'None.',
      'rp.feed': 'Feed (STIX 2.1 over TAXII 2.1)', 'rp.collections': 'TAXII collections (admin)',
      'rp.c.title': 'Collection', 'rp.c.tlp': 'TLP', 'rp.c.ids': 'Identities', 'rp.c.filter': 'Filter', 'rp.c.readers': 'Keys granted', 'rp.c.created': 'Created', 'rp.c.none': 'No collections yet.',
      'rp.ids.pseudonymous': 'tenants by pseudonym', 'rp.ids.named': 'tenants named', 'rp.ids.granted': 'identities granted',
      'rp.f.reportable': 'reportable only', 'rp.f.tenants': 'tenants', 'rp.f.provinces': 'provinces', 'rp.f.own': 'own tenant', 'rp.f.all': 'every incident',
      'rp.taxii': 'TAXII 2.1 discovery', 'rp.t.title': 'Title', 'rp.t.discovery': 'Discovery', 'rp.t.roots': 'API roots', 'rp.t.desc': 'Description',
      'rp.t.granted': 'Collections granted to this key', 'rp.t.read': 'read', 'rp.t.write': 'write', 'rp.t.nocols': 'No collections are granted to this key.',
      'rp.t.client': 'TAXII clients use the same API key (Bearer, or HTTP Basic with the key as password).',
      'rp.push': 'Push delivery state', 'rp.push.empty': 'A push is configured; no batch has been delivered yet.', 'rp.push.off': 'No push is configured here (FENGHUO_FEED_PUSH_*) and nothing was delivered.',
      'rp.d.opened': 'Batch opened', 'rp.d.remote': 'Remote collection', 'rp.d.size': 'Objects', 'rp.d.outcome': 'Outcome', 'rp.d.attempts': 'Attempts', 'rp.d.last': 'Last attempt',
      'rp.first': 'may go ahead', 'rp.optional': 'optional', 'rp.zh': 'Chinese (filed)', 'rp.en': 'English (alongside)',
      'rp.save': 'Save changes', 'rp.saved': 'Saved.', 'rp.nochange': 'Nothing changed.', 'rp.submit.h': 'Mark as submitted', 'rp.channel': 'Channel (e.g. 12387 platform, phone)',
      'rp.by': 'Submitted by (empty: this key)', 'rp.submit': 'Mark submitted', 'rp.channel.need': 'Enter the channel.',
      'rp.locked': 'A submitted report can no longer be edited.', 'rp.readonly': 'Your role may only read this report.',
      'rp.d.incident': 'Incident', 'rp.d.basis': 'Deadline basis', 'rp.d.updated': 'Last changed',
    },
  },
  async render(root, match, ctx) {
    if (match[1]) await detail(root, ctx, decodeURIComponent(match[1]));
    else await list(root, ctx);
    return null;
  },
};
