// Login: paste an API key; whoami tells the role (probing when whoami is not there).
import { ApiError, setSession, logout } from '../api.js';
import { el, mount } from '../format.js';

async function probe(api) {
  // Fallback while /api/v1/whoami is missing: ask endpoints and let the API's answers speak.
  const ok = async (path, params) => { try { return await api(path, { params }); } catch (e) { if (e instanceof ApiError && (e.status === 403 || e.status === 404)) return null; throw e; } };
  if (await ok('/keys')) return { role: 'admin', name: '', tenant: null, probed: true };
  const alerts = await ok('/alerts', { limit: 1 });
  if (!alerts) {
    const reports = await ok('/reports', { limit: 1 });
    return { role: reports ? 'regulator' : 'ingest', name: '', tenant: null, probed: true };
  }
  const tenants = await ok('/tenants');
  const items = tenants && (tenants.items || tenants.tenants || (Array.isArray(tenants) ? tenants : []));
  if (items && items.length === 1) return { role: 'tenant_viewer', name: '', tenant: items[0].id || items[0].tenant_id, probed: true };
  return { role: 'soc_analyst', name: '', tenant: null, probed: true };
}

export default {
  id: 'login',
  pattern: /^#\/login(?:[?]|$)/,
  nav: null,
  roles: [],
  messages: {
    zh: {
      'login.title': '登录烽火控制台', 'login.key': 'API 密钥', 'login.hint': '粘贴 API 密钥。密钥只保存在本浏览器会话中（sessionStorage），关闭标签页即失效。',
      'login.submit': '登录', 'login.checking': '正在验证…', 'login.as': '已登录：{name}', 'login.role': '角色', 'login.tenant': '租户',
      'login.probed': '（/whoami 不可用，角色由探测 API 得出）', 'login.logout': '退出登录', 'login.continue': '进入控制台',
      'login.bad': 'API 拒绝了该密钥（{s}）。', 'login.empty': '请输入 API 密钥。',
      'login.perm.triage': '可处置告警', 'login.perm.admin': '可管理密钥',
    },
    en: {
      'login.title': 'Sign in to the Fenghuo console', 'login.key': 'API key', 'login.hint': 'Paste an API key. It is kept for this browser session only (sessionStorage) and is gone when the tab closes.',
      'login.submit': 'Sign in', 'login.checking': 'Checking…', 'login.as': 'Signed in: {name}', 'login.role': 'Role', 'login.tenant': 'Tenant',
      'login.probed': '(no /whoami; role probed from the API)', 'login.logout': 'Log out', 'login.continue': 'Open the console',
      'login.bad': 'The API refused this key ({s}).', 'login.empty': 'Enter an API key.',
      'login.perm.triage': 'may triage', 'login.perm.admin': 'may administer keys',
    },
  },
  async render(root, match, ctx) {
    const { t } = ctx;
    const next = ctx.params.get('next');
    const home = (s) => (next && !next.startsWith('#/login') ? next : s.role === 'regulator' ? '#/reports' : '#/overview');
    const msg = el('div', { class: 'login-msg', role: 'status', 'aria-live': 'polite' });

    const showSession = (s) => el('section', { class: 'card login-current' },
      el('h2', {}, t('login.as', { name: s.name || s.role })),
      el('dl', { class: 'kv' },
        el('dt', {}, t('login.role')), el('dd', {}, el('span', { class: `role role-${s.role}` }, t(`role.${s.role}`)), s.probed ? el('span', { class: 'muted small' }, ` ${t('login.probed')}`) : null),
        s.tenant ? [el('dt', {}, t('login.tenant')), el('dd', {}, s.tenant)] : null,
        s.can_triage ? [el('dt', {}, '✓'), el('dd', {}, t('login.perm.triage'))] : null,
        s.can_admin ? [el('dt', {}, '✓'), el('dd', {}, t('login.perm.admin'))] : null),
      el('div', { class: 'row gap' },
        el('a', { class: 'btn primary', href: home(s) }, t('login.continue')),
        el('button', { type: 'button', class: 'btn', onclick: () => { logout(); ctx.navigate('#/login', { replace: true }); } }, t('login.logout'))));

    const current = ctx.session();
    if (current) { mount(root, el('div', { class: 'login-wrap' }, showSession(current))); return undefined; }

    const input = el('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, class: 'input wide', 'aria-describedby': 'api-key-hint' });
    const button = el('button', { type: 'submit', class: 'btn primary' }, t('login.submit'));
    const form = el('form', { class: 'card login-form', novalidate: true },
      el('h1', {}, t('login.title')),
      el('label', { for: 'api-key' }, t('login.key')),
      input,
      el('p', { id: 'api-key-hint', class: 'muted small' }, t('login.hint')),
      el('div', { class: 'row gap' }, button), msg);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) { mount(msg, el('p', { class: 'error' }, t('login.empty'))); input.focus(); return; }
      button.disabled = true;
      mount(msg, t('login.checking'));
      const authed = (path, opts = {}) => ctx.api(path, { ...opts, headers: { ...(opts.headers || {}), Authorization: `Bearer ${key}` } });
      try {
        let who;
        try {
          const w = await authed('/whoami');
          if (!w || typeof w !== 'object' || !w.role) throw new ApiError(404, 'Not Found', 'no /whoami');
          who = { role: w.role, name: w.name || '', tenant: w.tenant || null, id: w.id, can_triage: Boolean(w.can_triage), can_admin: Boolean(w.can_admin), reads: w.reads || null };
        } catch (err) {
          if (!(err instanceof ApiError) || err.status !== 404) throw err;
          who = await probe(authed);
          if (who.role === 'admin' || who.role === 'soc_analyst') who.can_triage = true;
          if (who.role === 'admin') who.can_admin = true;
        }
        setSession({ key, ...who });
        ctx.navigate(home(who), { replace: true });
      } catch (err) {
        button.disabled = false;
        const s = err instanceof ApiError ? `${err.status} ${err.title}` : String(err.message || err);
        mount(msg, el('p', { class: 'error', role: 'alert' }, t('login.bad', { s })));
        input.select();
      }
    });
    mount(root, el('div', { class: 'login-wrap' }, form));
    input.focus();
    return undefined;
  },
};
