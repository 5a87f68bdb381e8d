// Fenghuo console — formatting and a tiny DOM helper. Never innerHTML with data.
import { lang, locale, t, register } from './i18n.js';

register({
  zh: {
    'sev.critical': '严重', 'sev.high': '高', 'sev.medium': '中', 'sev.low': '低', 'sev.info': '信息',
    'grade.I': '特别重大', 'grade.II': '重大', 'grade.III': '较大', 'grade.IV': '一般',
    'status.new': '新建', 'status.acknowledged': '已确认', 'status.investigating': '调查中',
    'status.resolved': '已解决', 'status.false_positive': '误报', 'status.open': '未关闭',
    'time.utc': 'UTC {t}',
  },
  en: {
    'sev.critical': 'Critical', 'sev.high': 'High', 'sev.medium': 'Medium', 'sev.low': 'Low', 'sev.info': 'Info',
    'grade.I': 'Particularly serious', 'grade.II': 'Serious', 'grade.III': 'Relatively serious', 'grade.IV': 'General',
    'status.new': 'New', 'status.acknowledged': 'Acknowledged', 'status.investigating': 'Investigating',
    'status.resolved': 'Resolved', 'status.false_positive': 'False positive', 'status.open': 'Open',
    'time.utc': 'UTC {t}',
  },
});

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_TAGS = new Set(['svg', 'g', 'path', 'rect', 'circle', 'line', 'polyline', 'polygon', 'text', 'title', 'defs', 'pattern', 'tspan']);

function applyAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class' || k === 'className') {
      const cls = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      if (cls) node.setAttribute('class', cls);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) if (dv !== undefined && dv !== null) node.dataset[dk] = dv;
    } else if (k === 'style' && typeof v === 'object') {
      Object.assign(node.style, v); // CSSOM is allowed under style-src 'self'
    } else if (k.startsWith('on') && typeof v === 'function') {
      node.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'text') {
      node.textContent = String(v);
    } else if (k === 'value' && 'value' in node) {
      node.value = v;
    } else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') {
      node[k] = Boolean(v);
      if (v) node.setAttribute(k, '');
    } else if (v === true) {
      node.setAttribute(k, '');
    } else {
      node.setAttribute(k, String(v));
    }
  }
}

function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false || c === true) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
}

/**
 * el('a', {href: '#/x', class: 'btn', onclick: fn, dataset: {id}}, 'text', child, [more])
 * Strings become text nodes (textContent semantics); attributes via setAttribute; on* → listeners.
 */
export function el(tag, attrs = {}, ...children) {
  const node = SVG_TAGS.has(tag) ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  if (attrs instanceof Node || typeof attrs === 'string' || Array.isArray(attrs)) { children.unshift(attrs); attrs = {}; }
  applyAttrs(node, attrs);
  append(node, children);
  return node;
}

/** Replace all children of `node` with `children` (same rules as el). */
export function mount(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

function toDate(v) {
  if (v instanceof Date) return v;
  if (v === null || v === undefined || v === '') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** A date/time in the user's zone, e.g. "2026-01-05 18:03:12". */
export function fmtTime(iso, { seconds = true, date = true } = {}) {
  const d = toDate(iso);
  if (!d) return '—';
  const opts = { hour: '2-digit', minute: '2-digit', hour12: false };
  if (seconds) opts.second = '2-digit';
  if (date) Object.assign(opts, { year: 'numeric', month: '2-digit', day: '2-digit' });
  return new Intl.DateTimeFormat(locale(), opts).format(d);
}

/** <time datetime="…" title="UTC …">local time</time> */
export function timeEl(iso, opts = {}) {
  const d = toDate(iso);
  if (!d) return el('time', { class: 'time muted' }, '—');
  const utc = d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace('Z', ' UTC');
  return el('time', { datetime: d.toISOString(), title: utc, class: 'time' }, fmtTime(d, opts));
}

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];
const SEV_GLYPH = { critical: '◆', high: '▲', medium: '■', low: '●', info: '○' };

export function severityLabel(sev) { return t(`sev.${sev}`); }
export function severityGlyph(sev) { return SEV_GLYPH[sev] || '·'; }
export function severityRank(sev) { const i = SEVERITIES.indexOf(sev); return i < 0 ? 99 : i; }

/** Badge: colour + glyph + text (+ a CSS pattern for critical/high) so it reads in grey scale. */
export function severityBadge(sev) {
  const s = SEVERITIES.includes(sev) ? sev : 'info';
  return el('span', { class: `sev sev-${s}`, dataset: { severity: s }, title: severityLabel(s) },
    el('span', { class: 'sev-glyph', 'aria-hidden': 'true' }, SEV_GLYPH[s]),
    el('span', { class: 'sev-text' }, severityLabel(s)));
}

export const GRADES = ['I', 'II', 'III', 'IV'];
const GRADE_ZH = { I: '特别重大', II: '重大', III: '较大', IV: '一般' };
const GRADE_EN = { I: 'Particularly serious', II: 'Serious', III: 'Relatively serious', IV: 'General' };

/** gradeLabel('III') → "III 较大" (zh) or "III Relatively serious (较大)" (en). */
export function gradeLabel(g) {
  if (!g || !GRADE_ZH[g]) return g ? String(g) : '—';
  return lang() === 'en' ? `${g} ${GRADE_EN[g]} (${GRADE_ZH[g]})` : `${g} ${GRADE_ZH[g]}`;
}

export function gradeBadge(g) {
  return el('span', { class: `grade grade-${g || 'none'}`, title: gradeLabel(g) }, gradeLabel(g));
}

export function statusLabel(s) { return s ? t(`status.${s}`) : '—'; }

export function fmtNumber(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(Number(n));
}

/** Signed duration in ms → "1:02:03", "3 d 04:05:06"; negative values prefixed with "−". */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const neg = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const pad = (x) => String(x).padStart(2, '0');
  const body = `${d ? `${d}${lang() === 'en' ? 'd' : '天'} ` : ''}${d ? pad(h) : h}:${pad(m)}:${pad(s)}`;
  return neg ? `−${body}` : body;
}

/** Seconds → "850 ms" / "4.2 s" / "3 min". */
export function fmtSeconds(sec) {
  if (sec === null || sec === undefined || Number.isNaN(Number(sec))) return '—';
  const v = Number(sec);
  if (v < 1) return `${Math.round(v * 1000)} ms`;
  if (v < 120) return `${v.toFixed(1)} s`;
  if (v < 7200) return `${(v / 60).toFixed(1)} min`;
  return `${(v / 3600).toFixed(1)} h`;
}
