// Fenghuo console — shell: header, role-aware navigation, hash router, language and wall mode.
import { api, session, logout, ApiError } from './api.js';
import { t, lang, setLang, onLangChange, register } from './i18n.js';
import { el, mount } from './format.js';
import { subscribe, streamState } from './live.js';
import views from './views/index.js';

const WALL = 'fenghuo.wall';

register({
  zh: {
    'app.name': '烽火', 'app.sub': '云安全运营中心', 'app.skip': '跳到主要内容',
    'nav.label': '主导航', 'app.logout': '退出', 'app.login': '登录',
    'app.lang': 'English', 'app.lang.aria': '切换到英文 (Switch to English)',
    'app.wall': '大屏', 'app.wall.aria': '大屏深色模式',
    'live.open': '实时', 'live.connecting': '连接中', 'live.closed': '已断开', 'live.unavailable': '无实时流',
    'live.aria': '实时更新状态：{s}',
    'role.admin': '管理员', 'role.soc_analyst': 'SOC 分析员', 'role.tenant_viewer': '租户查看者', 'role.regulator': '监管方', 'role.ingest': '采集',
    'err.title': '请求未成功', 'err.403': '403 无权访问：该角色不能查看此内容（由 API 判定）。',
    'err.404': '404 未找到：不存在，或不在您的可见范围内（API 对两者的回答相同）。',
    'err.401': '401 未认证：API 密钥无效或已撤销，请重新登录。', 'err.0': '无法连接到服务器。',
    'err.429': '429 请求过多，请稍后再试。',
    'err.retry': '重试', 'notfound': '没有这个页面：{h}', 'loading': '加载中…',
  },
  en: {
    'app.name': 'Fenghuo', 'app.sub': 'Cloud SOC', 'app.skip': 'Skip to main content',
    'nav.label': 'Main navigation', 'app.logout': 'Log out', 'app.login': 'Log in',
    'app.lang': '中文', 'app.lang.aria': 'Switch to Chinese (切换到中文)',
    'app.wall': 'Wall', 'app.wall.aria': 'Dark wall-screen mode',
    'live.open': 'Live', 'live.connecting': 'Connecting', 'live.closed': 'Disconnected', 'live.unavailable': 'No live stream',
    'live.aria': 'Live updates: {s}',
    'role.admin': 'Admin', 'role.soc_analyst': 'SOC analyst', 'role.tenant_viewer': 'Tenant viewer', 'role.regulator': 'Regulator', 'role.ingest': 'Ingest',
    'err.title': 'The request did not succeed', 'err.403': '403 Forbidden: this role may not see this (the API decided).',
    'err.404': '404 Not found: it does not exist or is outside what you may see (the API answers both alike).',
    'err.401': '401 Unauthorised: the API key is invalid or revoked; log in again.', 'err.0': 'Cannot reach the server.',
    'err.429': '429 Too many requests; try again shortly.',
    'err.retry': 'Retry', 'notfound': 'No such page: {h}', 'loading': 'Loading…',
  },
});
for (const v of views) register(v.messages);

/** An honest rendering of an API error (status, title, detail as the API gave them). */
export function errorBox(err, onRetry) {
  const status = err instanceof ApiError ? err.status : 0;
  const known = { 0: 'err.0', 401: 'err.401', 403: 'err.403', 404: 'err.404', 429: 'err.429' }[status];
  return el('div', { class: 'problem', role: 'alert', dataset: { status: String(status) } },
    el('strong', {}, t('err.title')),
    el('p', {}, known ? t(known) : `${status} ${err.title || ''}`),
    err instanceof ApiError ? el('p', { class: 'muted small' }, `${err.title}${err.detail ? ` — ${err.detail}` : ''}`) : el('p', { class: 'muted small' }, String(err && err.message || err)),
    onRetry ? el('button', { type: 'button', class: 'btn', onclick: onRetry }, t('err.retry')) : null);
}

export function parseHash(hash = location.hash) {
  const h = hash || '#/';
  const q = h.indexOf('?');
  return { path: q < 0 ? h : h.slice(0, q), params: new URLSearchParams(q < 0 ? '' : h.slice(q + 1)) };
}

export function navigate(hash, { replace = false } = {}) {
  const target = hash.startsWith('#') ? hash : `#${hash}`;
  if (replace) { history.replaceState(null, '', target); route(); } else if (location.hash === target) route();
  else location.hash = target;
}

function homeFor(s) {
  if (!s) return '#/login';
  if (s.role === 'regulator') {
    const r = views.find((v) => v.id === 'reports');
    return r ? '#/reports' : '#/login';
  }
  return '#/overview';
}

function visible(v, s) {
  if (!v.nav) return false;
  if (!v.roles || !v.roles.length) return true;
  return Boolean(s && v.roles.includes(s.role));
}

// ---------- shell ----------
const app = document.getElementById('app');
const header = el('header', { class: 'topbar' });
const main = el('main', { id: 'main', class: 'view', tabindex: '-1' });
const skip = el('a', { class: 'skip', href: '#main' }, t('app.skip'));
onLangChange(() => { skip.textContent = t('app.skip'); });
skip.addEventListener('click', (e) => { e.preventDefault(); main.focus(); });
mount(app, skip, header, main);

function applyWall(on) {
  document.documentElement.classList.toggle('wall', on);
  try { localStorage.setItem(WALL, on ? '1' : '0'); } catch { /* ignore */ }
}
applyWall((() => { try { return localStorage.getItem(WALL) === '1'; } catch { return false; } })());

let liveBadge = null;
function liveText(st) { return t(`live.${st}`); }
function updateLive(st) {
  if (!liveBadge) return;
  liveBadge.dataset.state = st;
  liveBadge.lastChild.textContent = liveText(st);
  liveBadge.setAttribute('aria-label', t('live.aria', { s: liveText(st) }));
}
subscribe('status', (d) => updateLive(d.state));

function renderHeader() {
  const s = session();
  const { path } = parseHash();
  const nav = el('nav', { class: 'mainnav', 'aria-label': t('nav.label') },
    el('ul', {}, views.filter((v) => visible(v, s)).map((v) => {
      const href = v.href || `#/${v.id}`;
      const current = path === href || path.startsWith(`${href}/`);
      return el('li', {}, el('a', { href, 'aria-current': current ? 'page' : null }, v.nav[lang()] || v.nav.zh));
    })));
  liveBadge = s ? el('span', { class: 'live', role: 'status', dataset: { state: streamState() } },
    el('span', { class: 'live-dot', 'aria-hidden': 'true' }), el('span', {}, liveText(streamState()))) : null;
  const wallOn = document.documentElement.classList.contains('wall');
  mount(header,
    el('a', { class: 'brand', href: homeFor(s) },
      el('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '烽'),
      el('span', { class: 'brand-name' }, t('app.name')),
      el('span', { class: 'brand-sub' }, t('app.sub'))),
    s ? nav : el('span', { class: 'spacer' }),
    el('div', { class: 'topbar-tools' },
      liveBadge,
      el('button', { type: 'button', class: 'btn ghost', 'aria-pressed': wallOn ? 'true' : 'false', 'aria-label': t('app.wall.aria'), title: t('app.wall.aria'),
        onclick: (e) => { const on = !document.documentElement.classList.contains('wall'); applyWall(on); e.currentTarget.setAttribute('aria-pressed', on ? 'true' : 'false'); window.dispatchEvent(new Event('fenghuo:theme')); } }, t('app.wall')),
      // The accessible name is the visible text (WCAG 2.5.3); the longer wording is a tooltip.
      el('button', { type: 'button', class: 'btn ghost', lang: lang() === 'zh' ? 'en' : 'zh-CN', title: t('app.lang.aria'),
        onclick: () => setLang(lang() === 'zh' ? 'en' : 'zh') }, t('app.lang')),
      s ? el('span', { class: 'who' },
        el('span', { class: 'who-name' }, s.name || ''),
        el('span', { class: `role role-${s.role}` }, t(`role.${s.role}`)),
        s.tenant ? el('span', { class: 'who-tenant' }, s.tenant) : null) : null,
      s ? el('button', { type: 'button', class: 'btn ghost', onclick: () => { logout(); navigate('#/login'); } }, t('app.logout'))
        : el('a', { class: 'btn ghost', href: '#/login' }, t('app.login'))));
}

// ---------- router ----------
let cleanup = null;
let viewSubs = [];
let renderSeq = 0;

async function route() {
  const seq = ++renderSeq;
  if (typeof cleanup === 'function') { try { cleanup(); } catch (e) { console.error(e); } }
  cleanup = null;
  viewSubs.forEach((u) => u()); viewSubs = [];
  const s = session();
  const hash = location.hash || '';
  if (!hash || hash === '#' || hash === '#/') { history.replaceState(null, '', homeFor(s)); }
  const { params } = parseHash();
  let view = null; let match = null;
  for (const v of views) { const m = (location.hash || '').match(v.pattern); if (m) { view = v; match = m; break; } }
  if (!s && (!view || view.id !== 'login')) {
    const next = location.hash && !location.hash.startsWith('#/login') ? `?next=${encodeURIComponent(location.hash)}` : '';
    history.replaceState(null, '', `#/login${next}`);
    return route();
  }
  renderHeader();
  const root = el('div', { class: `page page-${view ? view.id : 'none'}` });
  mount(main, root);
  if (!view) { mount(root, el('div', { class: 'problem' }, t('notfound', { h: location.hash }))); return; }
  document.title = `${view.nav ? (view.nav[lang()] || view.nav.zh) : t('app.login')} · ${t('app.name')}`;
  const ctx = {
    api, t, navigate, session, params, lang, errorBox,
    subscribe: (type, fn) => { const u = subscribe(type, fn); viewSubs.push(u); return u; },
    isCurrent: () => seq === renderSeq,
  };
  try {
    const c = await view.render(root, match, ctx);
    if (seq !== renderSeq) { if (typeof c === 'function') c(); return; }
    cleanup = c;
  } catch (err) {
    if (seq !== renderSeq) return;
    console.warn(err);
    mount(root, errorBox(err, () => route()));
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('fenghuo:session', () => renderHeader());
onLangChange(() => route());
route();
