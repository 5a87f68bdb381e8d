// Fenghuo console — the incident entity graph's view: cytoscape on a canvas, a toolbar (grouping,
// fit, clear focus, re-layout, find), a detail panel, the legend and a keyboard-accessible entity
// list with the same content.
import { el, mount } from '../format.js';
import { t } from '../i18n.js';
import './messages.js';
import { buildElements, TYPES } from './elements.js';
import { structuredLayout, nameSizes } from './layout.js';
import { stylesheet, legend } from './style.js';

const CYTOSCAPE_URL = new URL('../../vendor/cytoscape/cytoscape.esm.min.mjs', import.meta.url).href;
const POS_KEY = 'fenghuo.graph.v2.'; // v2: the shelf layout with type groups (v1 positions are stale)
const MODE_KEY = 'fenghuo.graph.mode';
const BIG = 150; // entities from which the flat layout is tuned for speed and says grouping reads better
const FOCUS_ZOOM = 0.9; // focusing from the list comes at least this close: leaf names are shown
// cytoscape prepends an inline <style> unless an element with this id exists; the strict CSP
// would refuse it (and log an error), so we provide the rule in views.css and this placeholder.
const CY_STYLESHEET_ID = '__________cytoscape_stylesheet';

let cyPromise = null;
/** The vendored cytoscape factory (loaded once, on first use). */
export function loadCytoscape() {
  if (!cyPromise) {
    if (!document.getElementById(CY_STYLESHEET_ID)) {
      document.head.appendChild(el('meta', { id: CY_STYLESHEET_ID, name: 'cytoscape-stylesheet-placeholder', content: 'css/views.css' }));
    }
    cyPromise = import(CYTOSCAPE_URL).then((m) => m.default || m).catch((e) => { cyPromise = null; throw e; });
  }
  return cyPromise;
}

function loadPositions(key) {
  try { return JSON.parse(sessionStorage.getItem(POS_KEY + key) || 'null'); } catch { return null; }
}
function savePositions(cy, key) {
  const pos = {};
  cy.nodes().forEach((n) => { if (!n.isParent()) { const p = n.position(); pos[n.id()] = [Math.round(p.x), Math.round(p.y)]; } });
  try { sessionStorage.setItem(POS_KEY + key, JSON.stringify({ pos, zoom: cy.zoom(), pan: cy.pan() })); } catch { /* quota */ }
}

/**
 * Draw the graph into `container` (emptied). Options:
 *   placements  Map host → {vms, containers} (GET /hosts/{id}), for co-residency and grouping
 *   links       fn(nodeData) → href or null (tenant/host pages)
 *   onAlert     fn(alertId): show that alert (the page's own row)
 * Returns {destroy(), focus(id), reset()}.
 */
export async function entityGraph(container, incident, { placements = new Map(), links = () => null, onAlert = null } = {}) {
  const incId = incident.id;
  let mode = (() => { try { return sessionStorage.getItem(MODE_KEY) || 'host'; } catch { return 'host'; } })();
  if (!['host', 'tenant', 'none'].includes(mode)) mode = 'host';
  let built = buildElements(incident, placements, mode);
  let cy = null;
  let focused = null;
  let saveTimer = null;
  let names = null; // the structured layout's name sizes (grouped modes)
  let baseFs = {}; // id → the ordinary font size of each node's name
  let sizing = 0; // a pending requestAnimationFrame of sizeNames
  const posKey = () => `${incId}.${mode}`;

  const canvas = el('div', { class: 'graph-canvas', tabindex: '0', role: 'img' });
  const detail = el('div', { class: 'graph-detail', 'aria-live': 'polite' }, el('p', { class: 'muted' }, t('graph.sel.none')));
  const status = el('p', { class: 'graph-status muted small' });
  const findInput = el('input', { type: 'search', id: `gfind-${incId}`, placeholder: t('graph.find.ph'), list: `gfind-list-${incId}`, autocomplete: 'off' });
  const datalist = el('datalist', { id: `gfind-list-${incId}` });
  const modeSel = el('select', { id: `gmode-${incId}` },
    ['host', 'tenant', 'none'].map((m) => el('option', { value: m, selected: m === mode }, t(`graph.group.${m}`))));
  const listBox = el('div', { class: 'graph-list-body' });
  const listSummary = el('summary', {});
  const toolbar = el('div', { class: 'graph-toolbar', role: 'toolbar', 'aria-label': t('graph.title') },
    el('label', { for: `gmode-${incId}` }, t('graph.group')), modeSel,
    el('button', { type: 'button', class: 'btn small', onclick: () => cy && cy.fit(undefined, 30) }, t('graph.fit')),
    el('button', { type: 'button', class: 'btn small', onclick: () => reset() }, t('graph.reset')),
    el('button', { type: 'button', class: 'btn small', onclick: () => relayout(true) }, t('graph.relayout')),
    el('form', { class: 'graph-find', role: 'search', onsubmit: (e) => { e.preventDefault(); find(findInput.value); } },
      el('label', { for: `gfind-${incId}` }, t('graph.find')), findInput, datalist));
  mount(container,
    toolbar,
    el('div', { class: 'graph-body' }, canvas, el('aside', { class: 'graph-side' }, detail, legend())),
    status,
    el('p', { class: 'muted small' }, t('graph.hint')),
    el('details', { class: 'graph-list' }, listSummary, listBox));

  function describe() {
    const r = built.roles;
    const j = (a) => (a.length ? a.join(', ') : t('graph.none'));
    canvas.setAttribute('aria-label', t('graph.aria', { n: built.nodes.length, e: built.edgeCount, a: j(r.actors), v: j(r.victims), c: j(r.coresident) }));
  }

  function renderList() {
    listSummary.textContent = t('graph.list', { n: built.nodes.length });
    const byType = new Map();
    for (const n of built.nodes) { const k = TYPES.includes(n.type) ? n.type : 'other'; if (!byType.has(k)) byType.set(k, []); byType.get(k).push(n); }
    const blocks = [];
    for (const k of [...TYPES, 'other']) {
      const list = byType.get(k);
      if (!list) continue;
      list.sort((a, b) => a.label.localeCompare(b.label));
      blocks.push(el('div', { class: 'graph-list-type' }, el('h5', {}, `${t(`graph.type.${k}`)} (${list.length})`),
        el('ul', {}, list.map((n) => {
          const cls = (built.elements.find((x) => x.data.id === n.id) || {}).classes || '';
          const role = /r-(actor|victim|coresident)/.exec(cls);
          return el('li', {}, el('button', { type: 'button', class: 'linklike', onclick: () => focus(n.id, true) }, n.label),
            role ? el('span', { class: `tag tag-${role[1]}` }, t(`graph.role.${role[1]}`)) : null,
            / blast/.test(` ${cls}`) && !role ? el('span', { class: 'tag tag-blast' }, t('graph.role.blast')) : null);
        }))));
    }
    mount(listBox, blocks);
    mount(datalist, built.nodes.map((n) => el('option', { value: n.label })));
  }

  function showDetail(node) {
    if (!node) { mount(detail, el('p', { class: 'muted' }, t('graph.sel.none'))); return; }
    const d = node.data();
    const edges = node.connectedEdges('.alert');
    const alerts = new Map();
    edges.forEach((e) => e.data('alerts').forEach((a, i) => alerts.set(a, e.data('detectors')[Math.min(i, e.data('detectors').length - 1)])));
    const href = links(d);
    const role = /r-(actor|victim|coresident)/.exec(node.classes().join(' '));
    mount(detail,
      el('h4', {}, `${t(`graph.type.${TYPES.includes(d.type) ? d.type : 'other'}`)}: `, el('span', { class: 'mono' }, d.full || d.label)),
      role ? el('p', {}, el('span', { class: `tag tag-${role[1]}` }, t(`graph.role.${role[1]}`))) : null,
      node.hasClass('blast') && !role ? el('p', {}, el('span', { class: 'tag tag-blast' }, t('graph.role.blast'))) : null,
      href ? el('p', {}, el('a', { href }, `${t('graph.sel.open')} →`)) : null,
      el('p', { class: 'small muted' }, t('graph.sel.neigh', { n: node.neighborhood('node').length })),
      alerts.size ? el('div', {}, el('h5', {}, t('graph.sel.alerts')),
        el('ul', { class: 'graph-alerts' }, [...new Set(edges.map((e) => e.data('detectors')).flat())].sort().map((det) => {
          const ids = edges.filter((e) => e.data('detectors').includes(det)).map((e) => e.data('alerts')).flat();
          const uniq = [...new Set(ids)];
          return el('li', {}, el('span', { class: 'mono' }, det), ' ',
            uniq.slice(0, 3).map((a) => (onAlert ? [el('button', { type: 'button', class: 'linklike mono small', title: a, onclick: () => onAlert(a) }, a.slice(0, 8)), ' '] : el('span', { class: 'mono small', title: a }, `${a.slice(0, 8)} `))));
        }))) : null);
  }

  function reset() {
    focused = null;
    if (!cy) return;
    cy.elements().removeClass('faded near focused');
    showDetail(null);
  }

  function focus(id, fit = false) {
    if (!cy) return;
    const node = cy.getElementById(id);
    if (!node || node.empty()) return;
    focused = id;
    cy.elements().removeClass('focused near');
    let keep;
    if (node.isParent()) {
      const kids = node.descendants();
      keep = kids.union(kids.neighborhood()).union(node);
    } else {
      keep = node.closedNeighborhood();
      node.addClass('focused');
    }
    keep = keep.union(keep.nodes().ancestors());
    keep.addClass('near');
    cy.elements().not(keep).addClass('faded');
    keep.removeClass('faded');
    if (!node.isParent()) showDetail(node);
    if (fit) {
      cy.fit(keep, 40);
      // A neighbourhood spread over a big graph fits only at a zoom where names are hidden:
      // come close enough to the node itself to read them (the links lead to the rest).
      if (!node.isParent() && cy.zoom() < FOCUS_ZOOM) { cy.zoom(FOCUS_ZOOM); cy.center(node); }
    }
  }

  function find(q) {
    const s = String(q || '').trim().toLowerCase();
    if (!s || !cy) return;
    const hit = built.nodes.find((n) => n.label.toLowerCase() === s) || built.nodes.find((n) => n.id.toLowerCase().includes(s) || n.label.toLowerCase().includes(s));
    if (hit) focus(hit.id, true);
  }

  function scheduleSave() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => { if (cy) savePositions(cy, posKey()); }, 250);
  }

  function relayout(force) {
    if (!cy) return;
    const cached = force ? null : loadPositions(posKey());
    const leaves = cy.nodes().filter((n) => !n.isParent());
    const known = cached ? leaves.filter((n) => cached.pos[n.id()]) : cy.collection();
    // grouped modes: the structured layout, with the sizes of group and tenant names for this canvas
    const lay = mode === 'none' ? null : structuredLayout(built.elements, { width: canvas.clientWidth || 1000, height: canvas.clientHeight || 600 });
    names = lay;
    if (lay) cy.batch(() => { for (const [id, v] of Object.entries(lay.lw)) cy.getElementById(id).data('lw', v); });
    if (cached && known.length === leaves.length) {
      cy.layout({ name: 'preset', positions: (n) => { const p = cached.pos[n.id()]; return { x: p[0], y: p[1] }; }, fit: false }).run();
      if (cached.zoom && cached.pan) { cy.zoom(cached.zoom); cy.pan(cached.pan); } else cy.fit(undefined, 30);
      sizeNames();
      status.textContent = '';
      return;
    }
    const n = leaves.length;
    let layout;
    if (lay) {
      const { pos } = lay;
      if (cached) known.forEach((x) => { const p = cached.pos[x.id()]; pos[x.id()] = { x: p[0], y: p[1] }; });
      layout = cy.layout({ name: 'preset', positions: (nd) => pos[nd.id()] || { x: 0, y: 0 }, fit: true, padding: 24 });
    } else {
      if (cached) known.forEach((x) => { const p = cached.pos[x.id()]; x.position({ x: p[0], y: p[1] }); });
      layout = cy.layout({
        name: 'cose', animate: false, randomize: !(cached && known.length), fit: true, padding: 24,
        nodeDimensionsIncludeLabels: true, componentSpacing: 40, edgeElasticity: () => 120, randomSeed: 7,
        // hundreds of entities: fewer, hotter iterations and strong repulsion keep the hubs apart
        // in about a second on two cores (the default settings took several and left them piled)
        ...(n > BIG ? { numIter: 250, initialTemp: 400, gravity: 0.6, nodeOverlap: 120, idealEdgeLength: () => 45, nodeRepulsion: () => 40000 }
          : { numIter: 1500, gravity: 1.2, nodeOverlap: 12, idealEdgeLength: () => 48, nodeRepulsion: () => 5000 }),
      });
    }
    layout.one('layoutstop', () => { savePositions(cy, posKey()); });
    layout.run();
    sizeNames();
  }

  // Group and tenant names keep about their on-screen size as one zooms in (see nameSizes).
  function sizeNames() {
    sizing = 0;
    if (!cy || !names) return;
    const fs = nameSizes(names, cy.zoom(), baseFs);
    cy.batch(() => {
      for (const [id, v] of Object.entries(fs)) { const x = cy.getElementById(id); if (x.data('fs') !== v) x.data('fs', v); }
    });
  }

  function build() {
    if (cy) { cy.destroy(); cy = null; }
    built = buildElements(incident, placements, mode);
    baseFs = Object.fromEntries(built.elements.filter((e) => e.group === 'nodes').map((e) => [e.data.id, e.data.fs]));
    describe();
    renderList();
    if (!built.nodes.length) { status.textContent = t('graph.empty'); return; }
    cy = cyFactory({
      container: canvas, elements: built.elements, style: stylesheet(),
      minZoom: 0.08, maxZoom: 4, boxSelectionEnabled: false, autoungrabify: false,
      hideEdgesOnViewport: built.edgeCount > 300, // panning and zooming stay smooth with many links
    });
    relayout(false);
    if (mode === 'none' && built.nodes.length > BIG) status.textContent = t('graph.flat.big', { n: built.nodes.length });
    cy.on('tap', 'node', (e) => focus(e.target.id(), false));
    cy.on('tap', (e) => { if (e.target === cy) reset(); });
    cy.on('dragfree', 'node', scheduleSave);
    cy.on('viewport', scheduleSave);
    cy.on('zoom', () => { if (!sizing) sizing = requestAnimationFrame(sizeNames); });
    cy.on('mouseover', 'node, edge', (e) => { canvas.title = e.target.isNode() ? (e.target.data('full') || e.target.data('label')) : (e.target.data('detectors') || []).join(', '); });
  }

  canvas.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { reset(); e.preventDefault(); }
    if ((e.key === '+' || e.key === '=') && cy) { cy.zoom({ level: cy.zoom() * 1.2, renderedPosition: { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 } }); }
    if (e.key === '-' && cy) { cy.zoom({ level: cy.zoom() / 1.2, renderedPosition: { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 } }); }
    if (e.key === '0' && cy) cy.fit(undefined, 30);
  });
  modeSel.addEventListener('change', () => {
    mode = modeSel.value;
    try { sessionStorage.setItem(MODE_KEY, mode); } catch { /* ignore */ }
    const was = focused;
    build();
    if (was) focus(was, false);
  });
  const onTheme = () => { if (cy) cy.style(stylesheet()); };
  window.addEventListener('fenghuo:theme', onTheme);

  describe();
  renderList();
  let cyFactory;
  status.textContent = t('graph.loading');
  try {
    cyFactory = await loadCytoscape();
    status.textContent = '';
    build();
  } catch (e) {
    status.textContent = t('graph.unavailable', { e: String((e && e.message) || e) });
    status.classList.add('problem');
  }
  return {
    focus: (id) => focus(id, true),
    reset,
    destroy() {
      window.removeEventListener('fenghuo:theme', onTheme);
      clearTimeout(saveTimer);
      cancelAnimationFrame(sizing);
      if (cy) { savePositions(cy, posKey()); cy.destroy(); cy = null; }
    },
  };
}
