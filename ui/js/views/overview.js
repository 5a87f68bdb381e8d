// 态势总览 / Situational overview — figures from /stats, /incidents, /alerts, /reports;
// kept fresh by the shared event stream (stats, alert, incident), never by polling.
import { el, mount, timeEl, severityBadge, gradeLabel, gradeBadge, fmtNumber, fmtDuration, fmtSeconds, SEVERITIES, GRADES, severityLabel } from '../format.js';
import { ApiError } from '../api.js';
import { locale } from '../i18n.js';

const ESCAPE_DETECTORS = ['vmm-child-process', 'container-escape', 'host-tampering', 'vmm-crash', 'vmm-seccomp-violation', 'cross-vm-access'];
const HOUR = 3600e3;
let uplotModule; // undefined: not tried; null: absent

async function loadUplot() {
  if (uplotModule !== undefined) return uplotModule;
  try {
    const mod = await import('../../vendor/uplot/uPlot.esm.js');
    uplotModule = mod.default || mod;
    if (!document.querySelector('link[data-uplot]')) {
      document.head.appendChild(el('link', { rel: 'stylesheet', href: new URL('../../vendor/uplot/uPlot.min.css', import.meta.url).href, 'data-uplot': '1' }));
    }
  } catch {
    uplotModule = null;
  }
  return uplotModule;
}

async function pages(api, path, params, max = 2000) {
  const out = [];
  let cursor = null;
  do {
    const page = await api(path, { params: { ...params, limit: 500, cursor } });
    out.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return { items: out, truncated: Boolean(cursor) };
}

function kpi(label, value, sub, id) {
  return el('div', { class: 'card kpi', dataset: { kpi: id } },
    el('span', { class: 'kpi-label' }, label),
    el('span', { class: 'kpi-value' }, value),
    el('span', { class: 'kpi-sub' }, sub || '\u00a0'));
}

function heatClass(risk) { return `heat-${Math.min(4, Math.floor((Number(risk) || 0) / 20.01))}`; }

function svgChart(series, t) {
  // series: {x: [ms], bySev: {sev: [n]}}; an accessible SVG line chart, one dash style per severity
  const W = 720; const H = 210; const L = 36; const R = 10; const T = 10; const B = 26;
  const xs = series.x; const n = xs.length;
  const max = Math.max(1, ...SEVERITIES.flatMap((s) => series.bySev[s] || [0]));
  const xAt = (i) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
  const yAt = (v) => T + (H - T - B) * (1 - v / max);
  const g = [];
  for (let k = 0; k <= 4; k++) {
    const v = Math.round((max * k) / 4); const y = yAt(v);
    g.push(el('line', { class: 'gridline', x1: L, x2: W - R, y1: y, y2: y }), el('text', { x: L - 4, y: y + 4, 'text-anchor': 'end' }, String(v)));
  }
  const ticks = Math.min(6, n);
  for (let k = 0; k < ticks; k++) {
    const i = Math.round((k * (n - 1)) / Math.max(1, ticks - 1));
    const d = new Date(xs[i]);
    g.push(el('text', { x: xAt(i), y: H - 8, 'text-anchor': k === 0 ? 'start' : k === ticks - 1 ? 'end' : 'middle' }, `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`));
  }
  for (const s of [...SEVERITIES].reverse()) {
    const ys = series.bySev[s]; if (!ys || !ys.some((v) => v)) continue;
    const pts = ys.map((v, i) => `${xAt(i).toFixed(1)},${yAt(v).toFixed(1)}`).join(' ');
    g.push(el('polyline', { class: `s-${s}`, points: pts }, el('title', {}, severityLabel(s))));
  }
  g.push(el('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  return el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': t('ov.rate.aria') }, g);
}

function legend(series) {
  return el('div', { class: 'legend', 'aria-hidden': 'true' }, SEVERITIES.filter((s) => (series.bySev[s] || []).some((v) => v)).map((s) =>
    el('span', {}, el('span', { class: `sw sw-${s}` }), severityLabel(s))));
}

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'; }

function uplotChart(uPlot, series, container) {
  const sevs = SEVERITIES.filter((s) => (series.bySev[s] || []).some((v) => v));
  const dashes = { critical: [], high: [7, 3], medium: [2, 3], low: [10, 3, 2, 3], info: [] };
  const width = Math.max(320, container.clientWidth || 700);
  const opts = {
    width, height: 220,
    series: [{}, ...sevs.map((s) => ({ label: severityLabel(s), stroke: cssVar(`--sev-${s}`), width: s === 'critical' ? 2.5 : 2, dash: dashes[s] }))],
    // Time labels in the page's language and the user's zone (uPlot's own are English).
    axes: [{ stroke: cssVar('--muted'), grid: { stroke: cssVar('--line-2') },
      values: (u, splits) => splits.map((v) => new Date(v * 1000).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' })) },
    { stroke: cssVar('--muted'), grid: { stroke: cssVar('--line-2') } }],
    scales: { x: { time: true } },
    legend: { live: false },
  };
  const data = [series.x.map((x) => x / 1000), ...sevs.map((s) => series.bySev[s])];
  return new uPlot(opts, data, container);
}

function buildSeries(stats, alerts) {
  const width = (stats.bucket_seconds || 300) * 1000;
  const x = (stats.rate || []).map((r) => Date.parse(r.start));
  const bySev = Object.fromEntries(SEVERITIES.map((s) => [s, x.map(() => 0)]));
  const perBucket = (stats.rate || []).some((r) => r.by_severity);
  if (perBucket) {
    (stats.rate || []).forEach((r, i) => SEVERITIES.forEach((s) => { bySev[s][i] = (r.by_severity || {})[s] || 0; }));
  } else if (alerts) {
    const x0 = x[0];
    for (const item of alerts) {
      const a = item.alert || item; const ts = Date.parse(a.first_seen);
      const i = Math.floor((ts - x0) / width);
      if (i >= 0 && i < x.length && bySev[a.severity]) bySev[a.severity][i] += 1;
    }
  } else {
    bySev.info = (stats.rate || []).map((r) => r.alerts || 0); // totals only
  }
  return { x, bySev, perBucket };
}

export default {
  id: 'overview',
  pattern: /^#\/overview(?:[?]|$)/,
  nav: { zh: '态势总览', en: 'Overview' },
  roles: ['admin', 'soc_analyst', 'tenant_viewer'],
  messages: {
    zh: {
      'ov.title': '态势总览', 'ov.updated': '更新于', 'ov.open': '未关闭事件', 'ov.open.sub': '共 {n} 起事件',
      'ov.lasthour': '近 1 小时告警', 'ov.lasthour.sub': '库中共 {n} 条', 'ov.eps': '每秒接入事件', 'ov.eps.none': '等待实时流统计',
      'ov.lag': '检测延迟（中位数）', 'ov.lag.sub': '首个证据事件 → 告警，近 {n} 条', 'ov.overdue': '逾期报告', 'ov.overdue.sub': '监管报告',
      'ov.matrix': '未关闭事件：分级 × 严重度', 'ov.grade': '分级', 'ov.total': '合计',
      'ov.rate': '告警速率（按严重度）', 'ov.rate.aria': '按严重度的告警速率折线图', 'ov.rate.window': '近 24 小时，每 {b}', 'ov.rate.all': '库中全部数据（近 24 小时无告警），每 {b}',
      'ov.rate.fallback': '未找到 ui/vendor/uplot/，以 SVG 绘制。', 'ov.rate.totals': '接口未按严重度分桶，且告警过多无法在页面统计：仅显示总数。',
      'ov.tenants': '风险租户（热力）', 'ov.tenants.inc': '{n} 起未关闭', 'ov.hosts': '有逃逸迹象的宿主机', 'ov.hosts.sub': '检测器：虚拟机/容器逃逸、宿主篡改、VMM 异常',
      'ov.detectors': '检测器命中', 'ov.reports': '待报告（倒计时）', 'ov.reports.none': '没有待提交的报告。', 'ov.reports.forbidden': '该角色不能读取报告。',
      'ov.report.kind.initial': '初报', 'ov.report.kind.update': '续报', 'ov.report.kind.closing': '总结报告',
      'ov.overdue.by': '已逾期', 'ov.none': '暂无', 'ov.truncated': '仅统计前 {n} 条', 'ov.alerts': '告警',
    },
    en: {
      'ov.title': 'Situational overview', 'ov.updated': 'Updated', 'ov.open': 'Open incidents', 'ov.open.sub': '{n} incidents in all',
      'ov.lasthour': 'Alerts, last hour', 'ov.lasthour.sub': '{n} in the store', 'ov.eps': 'Events ingested / s', 'ov.eps.none': 'waiting for live statistics',
      'ov.lag': 'Detection lag (median)', 'ov.lag.sub': 'first evidence event → alert, last {n}', 'ov.overdue': 'Overdue reports', 'ov.overdue.sub': 'regulator reports',
      'ov.matrix': 'Open incidents: grade × severity', 'ov.grade': 'Grade', 'ov.total': 'Total',
      'ov.rate': 'Alert rate by severity', 'ov.rate.aria': 'Line chart of the alert rate by severity', 'ov.rate.window': 'last 24 h, per {b}', 'ov.rate.all': 'whole store (no alerts in the last 24 h), per {b}',
      'ov.rate.fallback': 'ui/vendor/uplot/ not found: drawn as SVG.', 'ov.rate.totals': 'The API does not bucket by severity and there are too many alerts to count here: totals only.',
      'ov.tenants': 'Tenants at risk (heat map)', 'ov.tenants.inc': '{n} open', 'ov.hosts': 'Hosts with escape signals', 'ov.hosts.sub': 'detectors: VM/container escape, host tampering, VMM anomalies',
      'ov.detectors': 'Detector hits', 'ov.reports': 'Reports due (countdown)', 'ov.reports.none': 'No report waiting to be submitted.', 'ov.reports.forbidden': 'This role may not read reports.',
      'ov.report.kind.initial': 'Initial', 'ov.report.kind.update': 'Update', 'ov.report.kind.closing': 'Closing',
      'ov.overdue.by': 'overdue', 'ov.none': 'None', 'ov.truncated': 'first {n} only', 'ov.alerts': 'alerts',
    },
  },

  async render(root, match, ctx) {
    const { api, t } = ctx;
    const live = { eps: null, lag: null };
    let timers = []; let plot = null; let destroyed = false; let refreshTimer = null; let lastRefresh = 0; let drawSeq = 0;
    const head = el('div', { class: 'page-head' }, el('h1', {}, t('ov.title')), el('span', { class: 'muted small', id: 'ov-updated' }));
    const body = el('div', { class: 'ov-grid' });
    mount(root, head, body);

    const optional = async (p) => { try { return await p; } catch (e) { if (e instanceof ApiError && (e.status === 403 || e.status === 404 || e.status === 422)) return { error: e }; throw e; } };

    // Every card is laid out at once and filled when its answer arrives: the headline figures
    // and the rate chart come from small requests, the whole store's figures (a scan of every
    // alert on a large store) and the slower panels must not hold them back.
    const pending = () => [el('span', { 'aria-hidden': 'true' }, '…'), el('span', { class: 'visually-hidden' }, t('loading'))];
    const waiting = () => el('p', { class: 'muted' }, t('loading'));
    const kpis = el('div', { class: 'ov-kpis' },
      kpi(t('ov.open'), pending(), pending(), 'open'),
      kpi(t('ov.lasthour'), pending(), pending(), 'lasthour'),
      kpi(t('ov.eps'), '—', t('ov.eps.none'), 'eps'),
      kpi(t('ov.lag'), pending(), '', 'lag'),
      kpi(t('ov.overdue'), pending(), t('ov.overdue.sub'), 'overdue'));
    const matrixHead = el('h2', { id: 'ov-m-h' }, t('ov.matrix'));
    const matrixBox = el('div', {}, waiting());
    const rateAside = el('span', { class: 'aside muted' });
    const chartBox = el('div', { class: 'chart' }, waiting());
    const chartNote = el('p', { class: 'muted small' });
    const heatBox = el('div', {}, waiting());
    const reportsBox = el('div', {}, waiting());
    const hostsBox = el('div', {}, waiting());
    const detBox = el('div', {}, waiting());
    const layout = [kpis,
      el('section', { class: 'card span-4', 'aria-labelledby': 'ov-m-h' }, matrixHead, matrixBox),
      el('section', { class: 'card span-8', 'aria-labelledby': 'ov-rate-h' }, el('h2', { id: 'ov-rate-h' }, t('ov.rate'), rateAside), chartBox, chartNote),
      el('section', { class: 'card span-5', 'aria-labelledby': 'ov-t-h' }, el('h2', { id: 'ov-t-h' }, t('ov.tenants')), heatBox),
      el('section', { class: 'card span-7', 'aria-labelledby': 'ov-r-h' }, el('h2', { id: 'ov-r-h' }, t('ov.reports')), reportsBox),
      el('section', { class: 'card span-6', 'aria-labelledby': 'ov-h-h' }, el('h2', { id: 'ov-h-h' }, t('ov.hosts'), el('span', { class: 'aside muted' }, t('ov.hosts.sub'))), hostsBox),
      el('section', { class: 'card span-6', 'aria-labelledby': 'ov-d-h' }, el('h2', { id: 'ov-d-h' }, t('ov.detectors')), detBox)];

    // Performance marks for bench/console_paint.py: the headline figures and the chart painted
    // (meaningful), then every panel (complete). Set once per render.
    const HEADLINE = ['open', 'lasthour', 'matrix', 'rate'];
    const EVERY = [...HEADLINE, 'store', 'lag', 'hosts', 'reports'];
    const shown = new Set(); const marked = new Set();
    function painted(part) {
      shown.add(part);
      for (const [name, parts] of [['fenghuo:overview-meaningful', HEADLINE], ['fenghuo:overview-complete', EVERY]]) {
        if (!marked.has(name) && parts.every((p) => shown.has(p))) { marked.add(name); performance.mark(name); }
      }
    }

    function fillKpi(id, value, sub) {
      const card = kpis.querySelector(`[data-kpi="${id}"]`);
      mount(card.querySelector('.kpi-value'), value);
      if (sub !== undefined) mount(card.querySelector('.kpi-sub'), sub || '\u00a0');
    }

    function paintHour(hour) { fillKpi('lasthour', fmtNumber(hour.alerts?.total)); painted('lasthour'); }

    function paintLag(recent) {
      // detection lag from recent alerts, on the live stream's basis: first evidence event →
      // first detection (both stable when later versions of the alert are merged in)
      const lags = recent.map((x) => x.alert || x).map((a) => Math.max(0, (Date.parse(a.detected_at) - Date.parse(a.first_seen)) / 1000)).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
      const lagMedian = lags.length ? lags[Math.floor(lags.length / 2)] : null;
      fillKpi('lag', fmtSeconds(live.lag !== null ? live.lag : lagMedian), t('ov.lag.sub', { n: lags.length }));
      painted('lag');
    }

    function paintMatrix(matrix) {
      // grade × severity of the open incidents, counted by the store (GET /stats, the stream)
      if (!matrix) return;
      const count = (g, s) => Number(matrix[g]?.[s] || 0);
      mount(matrixHead, t('ov.matrix'));
      mount(matrixBox, el('table', { class: 'matrix' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t('ov.grade')), SEVERITIES.map((s) => el('th', { scope: 'col' }, severityBadge(s))), el('th', { scope: 'col' }, t('ov.total')))),
        el('tbody', {}, GRADES.map((g) => {
          const total = SEVERITIES.reduce((n, s) => n + count(g, s), 0);
          return el('tr', {}, el('th', { scope: 'row', title: gradeLabel(g) }, el('span', { class: `grade grade-${g}` }, g, el('span', { class: 'visually-hidden' }, ` ${gradeLabel(g)}`))),
            SEVERITIES.map((s) => el('td', { class: count(g, s) ? '' : 'zero' }, count(g, s) ? el('a', { href: `#/incidents?grade=${g}&severity=${s}&status=open`, 'aria-label': `${gradeLabel(g)} ${severityLabel(s)}: ${count(g, s)}` }, String(count(g, s))) : '0')),
            el('td', {}, String(total)));
        }))));
      painted('matrix');
    }

    async function rate(dayP, since24, current) {
      let rateStats = await dayP; let windowKey = 'ov.rate.window'; let bucketText = '10 min';
      if (!(rateStats.alerts && rateStats.alerts.total)) {
        for (const b of ['5m', '1h', '1d']) {
          const r = await optional(api('/stats', { params: { bucket: b } }));
          if (!r.error) { rateStats = r; bucketText = b; break; }
        }
        windowKey = 'ov.rate.all';
      }
      let rateAlerts = null;
      if (!(rateStats.rate || []).some((r) => r.by_severity) && (rateStats.alerts?.total || 0) <= 2000) {
        const params = windowKey === 'ov.rate.window' ? { since: since24 } : {};
        rateAlerts = (await pages(api, '/alerts', params, 2000)).items;
      }
      const series = buildSeries(rateStats, rateAlerts);
      const uPlot = series.x.length ? await loadUplot() : null;
      if (!current()) return;
      if (plot) { plot.destroy(); plot = null; }
      mount(rateAside, t(windowKey, { b: bucketText }));
      chartNote.textContent = '';
      mount(chartBox);
      if (uPlot) { try { plot = uplotChart(uPlot, series, chartBox); } catch (e) { console.warn(e); mount(chartBox, svgChart(series, t), legend(series)); } } else {
        mount(chartBox, series.x.length ? [svgChart(series, t), legend(series)] : el('p', { class: 'empty' }, t('ov.none')));
        if (series.x.length) chartNote.textContent = t('ov.rate.fallback');
      }
      if (!series.perBucket && !rateAlerts && series.x.length) chartNote.textContent = `${chartNote.textContent} ${t('ov.rate.totals')}`;
      painted('rate');
    }

    function paintStore(all) {
      fillKpi('open', fmtNumber(all.incidents?.open), t('ov.open.sub', { n: fmtNumber(all.incidents?.total) }));
      mount(kpis.querySelector('[data-kpi="lasthour"] .kpi-sub'), t('ov.lasthour.sub', { n: fmtNumber(all.alerts?.total) }));
      fillKpi('overdue', fmtNumber(all.reports_overdue));
      // tenants heat map
      const tenants = (all.tenants_at_risk || []).slice(0, 12);
      mount(heatBox, tenants.length ? el('div', { class: 'heat', role: 'list' }, tenants.flatMap((r) => [
        el('a', { href: `#/alerts?tenant=${encodeURIComponent(r.tenant_id)}`, role: 'listitem', title: r.tenant_id }, r.tenant_id),
        el('div', { class: `heat-bar ${heatClass(r.risk)}`, style: { width: `${Math.max(2, Number(r.risk) || 0)}%` }, title: `risk ${fmtNumber(r.risk, 1)}`, 'aria-hidden': 'true' }),
        el('span', { class: 'small num' }, `${fmtNumber(r.risk, 0)} · ${t('ov.tenants.inc', { n: r.open_incidents })}`, r.highest_grade ? [' ', gradeBadge(r.highest_grade)] : null),
      ])) : el('p', { class: 'empty' }, t('ov.none')));
      // detector hits
      const det = Object.entries(all.by_detector || {}).sort((a, b) => b[1] - a[1]).slice(0, 12);
      const detMax = Math.max(1, ...det.map((x) => x[1]));
      mount(detBox, det.length ? el('ul', { class: 'list' }, det.map(([id, n]) => el('li', {},
        el('a', { class: 'grow mono small', href: `#/alerts?detector=${encodeURIComponent(id)}` }, id),
        el('div', { class: 'bar', style: { width: `${Math.round((n / detMax) * 120)}px` }, 'aria-hidden': 'true' }), el('span', { class: 'num small' }, fmtNumber(n))))) : el('p', { class: 'empty' }, t('ov.none')));
      painted('open'); painted('store');
    }

    function paintHosts(escapes) {
      // hosts with escape signals
      const byHost = new Map();
      for (const x of escapes.items) {
        const a = x.alert || x; if (!a.host_id) continue;
        const h = byHost.get(a.host_id) || { n: 0, top: 'info', last: a.last_seen, tenants: new Set() };
        h.n += 1; if (SEVERITIES.indexOf(a.severity) < SEVERITIES.indexOf(h.top)) h.top = a.severity;
        if (a.last_seen > h.last) h.last = a.last_seen; h.tenants.add(a.tenant_id); byHost.set(a.host_id, h);
      }
      const hosts = [...byHost.entries()].sort((a, b) => SEVERITIES.indexOf(a[1].top) - SEVERITIES.indexOf(b[1].top) || b[1].n - a[1].n).slice(0, 10);
      mount(hostsBox, hosts.length ? el('ul', { class: 'list' }, hosts.map(([id, h]) => el('li', {},
        severityBadge(h.top), el('a', { class: 'grow mono', href: `#/hosts/${encodeURIComponent(id)}` }, id),
        el('a', { class: 'small', href: `#/alerts?host=${encodeURIComponent(id)}` }, `${h.n} ${t('ov.alerts')}`), timeEl(h.last, { date: false })))) : el('p', { class: 'empty' }, t('ov.none')));
      painted('hosts');
    }

    function paintReports(reports) {
      // reports due with live countdowns
      timers.forEach(clearInterval); timers = [];
      let reportsBody;
      if (reports.error) reportsBody = reports.error.status === 403 ? el('p', { class: 'muted' }, t('ov.reports.forbidden')) : ctx.errorBox(reports.error);
      else {
        const offset = reports.now ? Date.parse(reports.now) - Date.now() : 0; // server clock
        const due = (reports.items || []).filter((r) => r.state !== 'submitted' && r.due_at).sort((a, b) => a.due_at.localeCompare(b.due_at)).slice(0, 10);
        const cds = [];
        reportsBody = due.length ? el('ul', { class: 'list' }, due.map((r) => {
          const cd = el('span', { class: 'countdown', role: 'timer', dataset: { due: r.due_at } });
          cds.push(cd);
          // The deadline rule (1 h / 2 h / 4 h from the grading basis, 30 d for closing reports);
          // `due_from` is when a report starts to count as due, not the start of its window.
          const hours = /(\d+)h\b/.exec(r.basis || '');
          const window = r.kind === 'closing' ? '30 d' : (hours ? `${hours[1]} h` : '');
          return el('li', {}, cd, el('span', { class: 'small muted' }, window),
            el('a', { class: 'grow', href: `#/reports/${encodeURIComponent(r.id)}` }, `${t(`ov.report.kind.${r.kind}`)} · ${r.tenant_id || ''}`), gradeBadge(r.grade));
        })) : el('p', { class: 'empty' }, t('ov.reports.none'));
        const tick = () => {
          const nowS = Date.now() + offset;
          for (const cd of cds) {
            const left = Date.parse(cd.dataset.due) - nowS;
            cd.textContent = left < 0 ? `${t('ov.overdue.by')} ${fmtDuration(-left)}` : fmtDuration(left);
            cd.classList.toggle('overdue', left < 0); cd.classList.toggle('soon', left >= 0 && left < 15 * 60e3);
          }
        };
        tick(); if (cds.length) timers.push(setInterval(tick, 1000));
      }
      mount(reportsBox, reportsBody);
      painted('reports');
    }

    async function draw() {
      lastRefresh = Date.now();
      const seq = ++drawSeq;
      const current = () => !destroyed && seq === drawSeq;
      const now = Date.now();
      const since24 = new Date(now - 24 * HOUR).toISOString();
      const since1 = new Date(now - HOUR).toISOString();
      if (!kpis.isConnected) mount(body, layout);
      const paint = (fn) => (v) => { if (current()) fn(v); return v; };
      try {
        loadUplot(); // fetched while the figures are computed
        // First the headline and the chart: small requests whatever the size of the store.
        // The whole store's figures (daily buckets: its rate is not drawn) carry the open
        // incidents and their grade x severity matrix, counted by the store.
        await Promise.all([
          api('/stats', { params: { since: since1, bucket: '5m' } }).then(paint(paintHour)),
          api('/stats', { params: { bucket: '1d' } }).catch(async (e) => { if (e instanceof ApiError && e.status === 422) return api('/stats', { params: { bucket: '366d' } }); throw e; })
            .then(paint((all) => { paintStore(all); paintMatrix(all.incidents?.open_by_grade_severity); })),
          rate(api('/stats', { params: { since: since24, bucket: '10m' } }), since24, current),
        ]);
        if (!current()) return;
        // Then the panels.
        await Promise.all([
          pages(api, '/alerts', { detector: ESCAPE_DETECTORS }, 1000).then(paint(paintHosts)),
          optional(api('/reports', { params: { limit: 200 } })).then(paint(paintReports)),
          api('/alerts', { params: { limit: 50 } }).then((p) => p.items || []).then(paint(paintLag)),
        ]);
      } catch (e) {
        if (current()) { timers.forEach(clearInterval); timers = []; mount(body, ctx.errorBox(e, draw)); }
        return;
      }
      if (current()) mount(document.getElementById('ov-updated') || el('span'), t('ov.updated'), ' ', timeEl(new Date().toISOString(), { date: false }));
    }

    function scheduleRefresh() {
      if (refreshTimer) return;
      const wait = Math.max(0, 5000 - (Date.now() - lastRefresh));
      refreshTimer = setTimeout(() => { refreshTimer = null; if (!destroyed) draw(); }, wait);
    }
    function setKpi(id, value, sub) {
      const card = root.querySelector(`[data-kpi="${id}"]`); if (!card) return;
      card.querySelector('.kpi-value').textContent = value;
      if (sub !== undefined) card.querySelector('.kpi-sub').textContent = sub;
      card.classList.remove('flash'); void card.offsetWidth; card.classList.add('flash');
    }

    ctx.subscribe('stats', (s) => {
      if (!s || typeof s !== 'object') return;
      const eps = s.events_per_second;
      const lag = s.detection_lag?.p50_s;
      if (eps !== undefined && eps !== null) { live.eps = Number(eps); setKpi('eps', fmtNumber(live.eps, 1), ''); }
      if (lag !== undefined && lag !== null) { live.lag = Number(lag); setKpi('lag', fmtSeconds(live.lag)); }
      // The stream's first frame carries the open incidents (of the whole store) at once.
      const open = s.open_incidents;
      if (open !== undefined && open !== null) { setKpi('open', fmtNumber(open)); painted('open'); }
      if (s.open_by_grade_severity) paintMatrix(s.open_by_grade_severity);
    });
    ctx.subscribe('alert', () => {
      const card = root.querySelector('[data-kpi="lasthour"] .kpi-value');
      if (card && shown.has('lasthour')) { const n = Number(String(card.textContent).replace(/[^\d]/g, '')) || 0; setKpi('lasthour', fmtNumber(n + 1)); }
      scheduleRefresh();
    });
    ctx.subscribe('incident', scheduleRefresh);
    const onTheme = () => { if (plot) scheduleRefresh(); };
    window.addEventListener('fenghuo:theme', onTheme);

    await draw();
    return () => { destroyed = true; timers.forEach(clearInterval); clearTimeout(refreshTimer); if (plot) plot.destroy(); window.removeEventListener('fenghuo:theme', onTheme); };
  },
};
