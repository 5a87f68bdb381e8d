// Alert queue: the filter as URL parameters — what the API is sent, what "filter for / filter
// out" change, the chips of the active filter, saved filters. One definition of the filter,
// so the list, the "act on all matching" count, the exports and the saved filters agree.
import { severityLabel, statusLabel } from '../format.js';

export const STATUSES = ['new', 'acknowledged', 'investigating', 'resolved', 'false_positive'];
export const LIST_KEYS = ['severity', 'detector', 'status']; // repeatable
export const ONE_KEYS = ['tenant', 'host', 'since', 'until', 'q']; // single values
// Fields the API can negate, and the repeatable parameter that excludes their values.
export const NOT_KEYS = { severity: 'not_severity', status: 'not_status', tenant: 'not_tenant', host: 'not_host', detector: 'not_detector' };
export const EXCLUDE_KEYS = Object.values(NOT_KEYS);
const SAVED = 'fenghuo.alerts.saved';

/** The API query of the filter in the URL `p` (sort and cursor are the page's own). */
export function apiParams(p) {
  const out = new URLSearchParams();
  for (const k of [...LIST_KEYS, ...EXCLUDE_KEYS]) for (const v of p.getAll(k)) out.append(k, v);
  for (const k of ONE_KEYS) if (p.get(k)) out.set(k, p.get(k));
  return out;
}

function removeValue(np, key, value) {
  const rest = np.getAll(key).filter((x) => x !== value);
  np.delete(key); rest.forEach((x) => np.append(key, x));
}

/** Only this value of the field (and no longer excluding it). */
export function filterFor(np, key, value) {
  if (LIST_KEYS.includes(key)) { np.delete(key); np.append(key, value); } else np.set(key, value);
  if (NOT_KEYS[key]) removeValue(np, NOT_KEYS[key], value);
}

/** Leave this value out, by the API's exclusion of its field (a positive filter naming the
 * same value is dropped, or nothing would be left; of several values selected, the others are
 * kept and nothing needs excluding). */
export function filterOut(np, key, value) {
  const not = NOT_KEYS[key];
  if (LIST_KEYS.includes(key)) {
    const had = np.getAll(key).length;
    removeValue(np, key, value);
    if (had && np.getAll(key).length) return; // the others still selected leave it out
  } else if (np.get(key) === value) np.delete(key);
  if (!np.getAll(not).includes(value)) np.append(not, value);
}

/** Remove one chip: one value of one parameter. */
export function dropValue(np, key, value) { removeValue(np, key, value); }

/** The field an exclusion parameter negates ('not_tenant' → 'tenant'), or null. */
export function negatedField(key) {
  return Object.keys(NOT_KEYS).find((f) => NOT_KEYS[f] === key) || null;
}

/** The label of a field in the filter form. */
export function fieldLabel(t, key) { return t(`aq.${key === 'q' ? 'search' : key}`); }

/** Every active condition of the filter, in the form's order, exclusions after the others:
 * [{ key, field, value, shown, negated }]. */
export function activeFilters(p) {
  const out = [];
  for (const key of [...LIST_KEYS, ...ONE_KEYS, ...EXCLUDE_KEYS]) {
    const field = negatedField(key) || key;
    for (const value of p.getAll(key)) {
      const shown = field === 'severity' ? severityLabel(value) : field === 'status' ? statusLabel(value)
        : (field === 'since' || field === 'until') ? new Date(value).toLocaleString() : value;
      out.push({ key, field, value, shown, negated: field !== key });
    }
  }
  return out;
}

export function loadSaved() { try { return JSON.parse(localStorage.getItem(SAVED) || '[]'); } catch { return []; } }
export function storeSaved(list) { localStorage.setItem(SAVED, JSON.stringify(list)); }

export function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso); if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function fromLocalInput(v) { if (!v) return ''; const d = new Date(v); return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.000Z$/, 'Z'); }

export function uid() { return (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`); }
export function rowAlert(item) { return item.alert ? item : { alert: item, state: item.state || {} }; }
