// Fenghuo console — messages in Simplified Chinese and English.
const STORE = 'fenghuo.lang';
const catalogue = { zh: {}, en: {} };
const listeners = new Set();

function initial() {
  try {
    const saved = localStorage.getItem(STORE);
    if (saved === 'zh' || saved === 'en') return saved;
  } catch { /* storage may be blocked */ }
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'zh-CN'];
  const first = String(prefs[0] || '').toLowerCase();
  return first.startsWith('en') ? 'en' : 'zh';
}

let current = initial();

/** register({zh: {key: text}, en: {key: text}}) — later registrations extend earlier ones. */
export function register(messages) {
  if (!messages) return;
  for (const l of Object.keys(messages)) {
    const k = l.toLowerCase().startsWith('en') ? 'en' : 'zh';
    Object.assign(catalogue[k], messages[l]);
  }
}

/** t('alerts.count', {n: 3}) — `{n}` substituted; falls back to the other language, then to the key. */
export function t(key, vars = {}) {
  const other = current === 'zh' ? 'en' : 'zh';
  let s = catalogue[current][key];
  if (s === undefined) s = catalogue[other][key];
  if (s === undefined) s = key;
  return String(s).replace(/\{(\w+)\}/g, (m, name) => (vars[name] === undefined || vars[name] === null ? m : String(vars[name])));
}

/** 'zh' or 'en' */
export function lang() { return current; }

/** BCP 47 tag of the current language, for Intl and <html lang>. */
export function locale() { return current === 'en' ? 'en' : 'zh-CN'; }

export function setLang(l) {
  const next = String(l).toLowerCase().startsWith('en') ? 'en' : 'zh';
  try { localStorage.setItem(STORE, next); } catch { /* ignore */ }
  if (next === current) return;
  current = next;
  document.documentElement.lang = locale();
  for (const fn of [...listeners]) { try { fn(next); } catch (e) { console.error(e); } }
}

/** onLangChange(fn) → unsubscribe */
export function onLangChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

document.documentElement.lang = locale();
