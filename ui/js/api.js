// Fenghuo console — API client. The key lives in sessionStorage only (this browser session).
const KEY = 'fenghuo.session';

export class ApiError extends Error {
  constructor(status, title, detail, body = null) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.body = body;
  }
}

export function session() {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw);
    return s && s.key ? s : null;
  } catch {
    return null;
  }
}

export function setSession(s) {
  if (!s) { sessionStorage.removeItem(KEY); return; }
  sessionStorage.setItem(KEY, JSON.stringify(s));
  window.dispatchEvent(new CustomEvent('fenghuo:session', { detail: s }));
}

export function logout() {
  sessionStorage.removeItem(KEY);
  window.dispatchEvent(new CustomEvent('fenghuo:session', { detail: null }));
}

function buildUrl(path, params) {
  const base = path.startsWith('/') ? path : `/api/v1/${path}`;
  const url = new URL(base.startsWith('/api/') || base.startsWith('/taxii2') || base.startsWith('/healthz') ? base : `/api/v1${base}`, location.origin);
  if (params) {
    const entries = params instanceof URLSearchParams ? params.entries() : Object.entries(params);
    for (const [k, v] of entries) {
      if (v === undefined || v === null || v === '') continue;
      if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
      else url.searchParams.append(k, v);
    }
  }
  return url;
}

/**
 * api('/alerts', {params: {severity: ['high']}}) → parsed JSON (text for non-JSON answers).
 * Paths without the /api/ prefix are taken relative to /api/v1.
 * Throws ApiError(status, title, detail) from application/problem+json (or the status text).
 */
export async function api(path, { method = 'GET', body, params, headers = {}, signal } = {}) {
  const s = session();
  const h = { Accept: 'application/json, application/problem+json;q=0.9, */*;q=0.5', ...headers };
  if (s && s.key && !h.Authorization) h.Authorization = `Bearer ${s.key}`;
  let payload;
  if (body !== undefined && body !== null) {
    if (typeof body === 'string' || body instanceof Blob || body instanceof FormData) payload = body;
    else { payload = JSON.stringify(body); h['Content-Type'] = h['Content-Type'] || 'application/json'; }
  }
  let res;
  try {
    res = await fetch(buildUrl(path, params), { method, headers: h, body: payload, signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'Network error', String(e.message || e));
  }
  const ct = res.headers.get('Content-Type') || '';
  const isJson = /json/.test(ct);
  let data = null;
  if (res.status !== 204) {
    const text = await res.text();
    data = text;
    if (isJson && text) { try { data = JSON.parse(text); } catch { /* keep text */ } }
  }
  if (!res.ok) {
    const title = (data && typeof data === 'object' && data.title) || res.statusText || `HTTP ${res.status}`;
    const detail = (data && typeof data === 'object' && (typeof data.detail === 'string' ? data.detail : data.detail && JSON.stringify(data.detail))) || '';
    throw new ApiError(res.status, title, detail, data);
  }
  return data;
}
