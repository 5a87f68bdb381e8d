// Fenghuo console — the entity graph's layout for the grouped modes (pure: elements in, positions
// and label sizes out).
//
// Deterministic and stable across re-renders (force layouts with compound nodes sprawl and move
// on every run): groups are packed in shelves to the canvas's aspect ratio, most important and
// largest first; leaves sit in grids inside them; top-level tenants in one row across the top,
// attacker → victims → co-resident → others. At a few hundred entities the fitted picture is
// small, so group and tenant names are sized to read at about 11 px when the whole graph is
// fitted (with room reserved above each group for its name); leaf names appear as one zooms in.

export const CELL_W = 92;
export const CELL_H = 66;
const GAP = 34;
const PAD = 22;
const TOP_CELL_MAX = 420; // widest cell of a top-level leaf (tenants): room for a large name
const READ_PX = 11; // group and tenant names read at this size when the graph is fitted
const MAX_FS = 40; // ... but no larger than this (model units) when zoomed in
const FIT_PAD = 24; // padding of the fitted view (as the view's fit)
const TYPE_ORDER = ['tenant', 'host', 'vm', 'container', 'process', 'account', 'ip', 'resource', 'other'];
const ROLE_ORDER = { 'r-actor': 0, 'r-victim': 1, 'r-coresident': 2 };

function leafRank(e) {
  const role = Object.keys(ROLE_ORDER).find((r) => (e.classes || '').includes(r));
  const type = TYPE_ORDER.indexOf(e.data.type);
  return [role ? ROLE_ORDER[role] : 3, type < 0 ? 99 : type, e.data.label];
}
function byLeaf(a, b) {
  const x = leafRank(a); const y = leafRank(b);
  return x[0] - y[0] || x[1] - y[1] || String(x[2]).localeCompare(String(y[2]));
}
function groupRank(g) {
  const c = g.classes || '';
  if (c.includes('gr-actor')) return 0;
  if (c.includes('gr-victim')) return 1;
  if (c.includes('gr-coresident')) return 2;
  if (c.includes('grp-type')) return 5;
  return c.includes('grp-host') ? 4 : 3;
}

/** Font size (model units) of a group's name at depth 1 (top level) or deeper, for size `big`. */
function groupFont(depth, big) { return depth <= 1 ? big : Math.max(READ_PX, Math.round(big * 0.6)); }

function run(elements, aspect, big) {
  const nodes = elements.filter((e) => e.group === 'nodes');
  const isGroup = new Set(nodes.filter((e) => String(e.data.id).startsWith('g:')).map((e) => e.data.id));
  const kids = new Map();
  for (const e of nodes) {
    const p = e.data.parent || '';
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(e);
  }
  const fs = {};
  const lw = {};

  // Local box of one level: {w, h, out: [[id, x, y]]}; `depth` 0 is the whole picture.
  function pack(id, depth) {
    const children = kids.get(id) || [];
    const leaves = children.filter((e) => !isGroup.has(e.data.id)).sort(byLeaf);
    const packed = children.filter((e) => isGroup.has(e.data.id))
      .map((g) => ({ g, ...pack(g.data.id, depth + 1) }))
      .sort((a, b) => groupRank(a.g) - groupRank(b.g) || b.h - a.h || String(a.g.data.label).localeCompare(String(b.g.data.label)));
    const top = depth === 0;
    const area = packed.reduce((s, q) => s + (q.w + GAP) * (q.h + GAP), 0) + leaves.length * CELL_W * CELL_H;
    const widest = packed.reduce((m, q) => Math.max(m, q.w), 0);
    const maxW = top ? Math.max(widest, Math.sqrt(area * aspect)) : Math.max(widest, 360, Math.sqrt(area) * 1.2);

    // leaves: a grid (inside a group), or one wide row of large cells (the top level's tenants)
    let cols; let cw = CELL_W; let ch = CELL_H;
    if (top) {
      cols = Math.max(1, Math.min(leaves.length, Math.floor(maxW / CELL_W)));
      cw = Math.max(CELL_W, Math.min(TOP_CELL_MAX, maxW / cols));
      ch = Math.max(CELL_H, 50 + big * 1.4);
      for (const e of leaves) if (e.data.type === 'tenant') { fs[e.data.id] = big; lw[e.data.id] = Math.round(cw - 16); }
    } else {
      cols = Math.max(1, Math.min(Math.ceil(Math.sqrt(leaves.length * 1.5)), Math.floor(Math.max(maxW, CELL_W) / CELL_W)));
    }
    const rows = Math.ceil(leaves.length / cols);
    const leafW = leaves.length ? cols * cw : 0;
    const leafH = rows * ch;

    // groups: shelves no wider than maxW
    let x = 0; let y = 0; let rowH = 0; let w = leafW;
    const place = [];
    for (const q of packed) {
      if (x > 0 && x + q.w > maxW) { x = 0; y += rowH + GAP; rowH = 0; }
      place.push([q, x, y]);
      x += q.w + GAP; rowH = Math.max(rowH, q.h); w = Math.max(w, x - GAP);
    }
    const groupsH = packed.length ? y + rowH : 0;
    // top level: tenants above the groups; inside a group: sub-groups above the leaves
    const leafY = top ? 0 : (groupsH ? groupsH + GAP : 0);
    const groupY = top ? (leaves.length ? leafH + GAP : 0) : 0;
    const out = [];
    leaves.forEach((e, i) => out.push([e.data.id, (i % cols) * cw + cw / 2 + (w - leafW) / 2, leafY + Math.floor(i / cols) * ch + ch / 2]));
    for (const [q, gx, gy] of place) for (const [nid, px, py] of q.out) out.push([nid, gx + px, groupY + gy + py]);
    const h = (leaves.length ? leafH : 0) + groupsH + (leaves.length && groupsH ? GAP : 0);
    if (top) return { w, h, out };
    // a group: padding all round and its name above its content
    const font = groupFont(depth, big);
    const label = Math.round(font * 1.3);
    fs[id] = font;
    lw[id] = Math.round(w + 2 * PAD);
    return { w: w + 2 * PAD, h: h + 2 * PAD + label, out: out.map(([nid, px, py]) => [nid, px + PAD, py + PAD + label]) };
  }
  const { w, h, out } = pack('', 0);
  const pos = {};
  for (const [nid, x, y] of out) pos[nid] = { x, y };
  return { pos, fs, lw, w, h };
}

/**
 * Positions of the leaves for the grouped modes, and the sizes of the names that must stay
 * legible when the whole graph is fitted into a canvas of `width` × `height` pixels:
 * {pos: id → {x, y}, fs: id → font size at that zoom (room is reserved for it), lw: id → label
 * width, zoom: the fitted zoom}. Closer in, the view shrinks those names (`nameSizes`).
 */
export function structuredLayout(elements, { width = 1000, height = 600 } = {}) {
  const aspect = Math.max(0.5, Math.min(4, width / Math.max(1, height)));
  const zoomOf = (r) => Math.min(1, (width - 2 * FIT_PAD) / Math.max(1, r.w), (height - 2 * FIT_PAD) / Math.max(1, r.h));
  // Shelves waste some room, so the picture comes out taller than the canvas's shape: try wider
  // shelves and keep the one that fits at the largest zoom.
  let shape = aspect;
  let res = null;
  for (const widen of [1, 1.25, 1.5, 1.8, 2.2]) {
    const r = run(elements, aspect * widen, READ_PX);
    if (!res || zoomOf(r) > zoomOf(res) + 1e-6) { res = r; shape = aspect * widen; }
  }
  // Names sized for the fitted zoom take room, which shrinks that zoom a little: settle twice.
  for (let i = 0; i < 2; i++) {
    const big = Math.round(Math.min(MAX_FS, Math.max(READ_PX, READ_PX / zoomOf(res))));
    res = run(elements, shape, big);
  }
  return { pos: res.pos, fs: res.fs, lw: res.lw, zoom: zoomOf(res) };
}

/**
 * The names' font sizes at `zoom`: as large as laid out at the fitted zoom, shrinking as one
 * zooms in so they keep about the size they had on screen, but never below the ordinary size
 * (`base`: id → font size). lay: what structuredLayout returned.
 */
export function nameSizes(lay, zoom, base) {
  const out = {};
  const k = lay.zoom / Math.max(zoom, 1e-3);
  for (const [id, fs] of Object.entries(lay.fs)) out[id] = Math.round(Math.max(base[id] || READ_PX, Math.min(fs, fs * k)));
  return out;
}
