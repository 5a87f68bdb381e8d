// Alert queue: the filter as URL parameters — what the API is sent, what "filter for / filter
// out" change, the chips of the active filter, saved filters. One definition of the filter,
// so the list, the "act on all matching" count, the exports and the saved filters agree.
import * as shared from '../filters.js';

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

const FIELDS = { list: LIST_KEYS, one: ONE_KEYS, not: NOT_KEYS };

/** Only this value of the field (and no longer excluding it). */
export function filterFor(np, key, value) { shared.filterFor(FIELDS, np, key, value); }

/** Leave this value out, by the API's exclusion of its field (see filters.js). */
export function filterOut(np, key, value) { shared.filterOut(FIELDS, np, key, value); }

/** Remove one chip: one value of one parameter. */
export function dropValue(np, key, value) { shared.removeValue(np, key, value); }

/** The field an exclusion parameter negates ('not_tenant' → 'tenant'), or null. */
export function negatedField(key) { return shared.negatedField(FIELDS, key); }

/** The label of a field in the filter form. */
export function fieldLabel(t, key) { return t(`aq.${key === 'q' ? 'search' : key}`); }

/** Every active condition of the filter, in the form's order, exclusions after the others:
 * [{ key, field, value, shown, negated }]. */
export function activeFilters(p) { return shared.activeFilters(FIELDS, p); }

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
