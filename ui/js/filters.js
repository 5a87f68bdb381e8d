// A list's filter kept in its URL (the hash's query string), shared by the alert queue and the
// incident list. "Filter for / filter out this value" and the removable chips only rewrite that
// query, so the URL stays the one truth: a reload keeps the filter, Back undoes a click, a link
// shares it. A view describes its filter by its fields:
//   { list: ['severity', …],                    repeatable parameters (any of the values)
//     one:  ['tenant', …],                      single-valued parameters
//     not:  { severity: 'not_severity', … } }   the API's repeatable exclusion of a field
import { el, gradeLabel, severityLabel, statusLabel } from './format.js';

/** Remove one value of one (repeatable) parameter, keeping the others in their order. */
export function removeValue(np, key, value) {
  const rest = np.getAll(key).filter((x) => x !== value);
  np.delete(key); rest.forEach((x) => np.append(key, x));
}

/** Only this value of the field (and no longer excluding it). */
export function filterFor(fields, np, key, value) {
  if (fields.list.includes(key)) { np.delete(key); np.append(key, value); } else np.set(key, value);
  if (fields.not[key]) removeValue(np, fields.not[key], value);
}

/** Leave this value out, by the API's exclusion of its field (a positive filter naming the
 * same value is dropped, or nothing would be left; of several values selected, the others are
 * kept and nothing needs excluding). */
export function filterOut(fields, np, key, value) {
  const not = fields.not[key];
  if (fields.list.includes(key)) {
    const had = np.getAll(key).length;
    removeValue(np, key, value);
    if (had && np.getAll(key).length) return; // the others still selected leave it out
  } else if (np.get(key) === value) np.delete(key);
  if (!np.getAll(not).includes(value)) np.append(not, value);
}

/** The field an exclusion parameter negates ('not_tenant' → 'tenant'), or null. */
export function negatedField(fields, key) {
  return Object.keys(fields.not).find((f) => fields.not[f] === key) || null;
}

/** A value as a person reads it: severities and statuses in the interface's language, times in
 * the browser's zone, anything else (tenants, hosts, text) as it is. */
export function shownValue(field, value) {
  if (field === 'severity' || field === 'min_severity') return severityLabel(value);
  if (field === 'status') return statusLabel(value);
  if (field === 'grade') return gradeLabel(value);
  if (field === 'since' || field === 'until') return new Date(value).toLocaleString();
  return value;
}

/** Every active condition of the filter in `p`, in the fields' order, exclusions after the
 * others: [{ key, field, value, shown, negated }]. */
export function activeFilters(fields, p, shown = shownValue) {
  const out = [];
  for (const key of [...fields.list, ...fields.one, ...Object.values(fields.not)]) {
    const field = negatedField(fields, key) || key;
    for (const value of p.getAll(key)) out.push({ key, field, value, shown: shown(field, value), negated: field !== key });
  }
  return out;
}

/** The "+" / "−" buttons beside a value (named for screen readers; `onOut` absent: no "−"). */
export function valueButtons({ forLabel, outLabel, onFor, onOut }) {
  const button = (label, text, fn) => el('button', {
    type: 'button', title: label, 'aria-label': label,
    onclick: (e) => { e.preventDefault(); e.stopPropagation(); fn(); },
  }, text);
  return el('span', { class: 'fv' }, button(forLabel, '+', onFor), onOut ? button(outLabel, '−', onOut) : null);
}

/** One active condition as a removable chip: "Tenant: acme", or for an exclusion "Tenant ≠ acme"
 * (read to a screen reader as `notText`, e.g. "Tenant is not acme"). */
export function filterChip(f, { label, notText, removeLabel, onRemove }) {
  const remove = el('button', { type: 'button', 'aria-label': removeLabel, onclick: onRemove }, '✕');
  if (!f.negated) return el('span', { class: 'chip', dataset: { key: f.key, value: f.value } }, `${label}: ${f.shown}`, remove);
  return el('span', { class: 'chip neg', dataset: { key: f.key, value: f.value } },
    el('span', { 'aria-hidden': 'true' }, `${label} ≠ ${f.shown}`),
    el('span', { class: 'visually-hidden' }, notText), remove);
}
