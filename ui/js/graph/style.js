// Fenghuo console — the entity graph's look: cytoscape's stylesheet (theme colours read from CSS
// variables) and the legend beside the canvas. Colour is never the only signal: shapes, borders
// and line styles carry the same meaning.
import { el } from '../format.js';
import { t } from '../i18n.js';
import './messages.js';

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function stylesheet() {
  const fg = cssVar('--g-fg', '#1b2330');
  const bg = cssVar('--g-bg', '#ffffff');
  const muted = cssVar('--g-muted', '#5b6778');
  const font = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif';
  return [
    { selector: 'node', style: {
      label: 'data(label)', 'font-family': font, 'font-size': 'data(fs)', color: fg, 'text-valign': 'bottom', 'text-margin-y': 3,
      'text-wrap': 'ellipsis', 'text-max-width': 'data(lw)', 'min-zoomed-font-size': 7, 'background-color': '#8a96a8',
      'border-width': 1.5, 'border-color': fg, width: 26, height: 26,
      'text-background-color': bg, 'text-background-opacity': 0.75, 'text-background-padding': 1,
    } },
    { selector: 'node.t-tenant', style: { shape: 'round-rectangle', width: 46, height: 30, 'font-weight': 'bold', 'background-color': '#b7c3d3', 'min-zoomed-font-size': 0 } },
    { selector: 'node.t-host', style: { 'min-zoomed-font-size': 0 } },
    { selector: 'node.r-actor', style: { 'background-color': '#b3261e', 'border-width': 3, 'border-color': '#3b0a07', shape: 'octagon', width: 44, height: 44 } },
    { selector: 'node.r-victim', style: { 'background-color': '#f59e0b', 'border-width': 3, 'border-color': '#5c3a00', shape: 'round-rectangle' } },
    { selector: 'node.r-coresident', style: { 'background-color': '#fde68a', 'border-width': 2, 'border-color': '#7c5e10', shape: 'round-rectangle' } },
    { selector: 'node.t-host', style: { shape: 'rectangle', 'background-color': '#1e3a5f', width: 34, height: 26, 'border-color': '#0b1726' } },
    { selector: 'node.t-vm', style: { shape: 'ellipse', 'background-color': '#4f83cc' } },
    { selector: 'node.t-container', style: { shape: 'hexagon', 'background-color': '#2f9e8f' } },
    { selector: 'node.t-process', style: { shape: 'diamond', 'background-color': '#7a5cc2', width: 16, height: 16, 'min-zoomed-font-size': 10 } },
    { selector: 'node.t-account', style: { shape: 'triangle', 'background-color': '#c2410c' } },
    { selector: 'node.t-ip', style: { shape: 'barrel', 'background-color': '#64748b', width: 30, height: 20 } },
    { selector: 'node.t-resource', style: { shape: 'cut-rectangle', 'background-color': '#0e7490' } },
    { selector: 'node.blast', style: { 'border-style': 'double', 'border-width': 5, 'border-color': '#b3261e' } },
    { selector: 'node.r-actor.blast', style: { 'border-color': '#3b0a07' } },
    { selector: 'node.context', style: { 'border-style': 'dashed', 'background-opacity': 0.55 } },
    { selector: 'node.context.blast', style: { 'border-style': 'dashed', 'border-width': 3 } },
    { selector: ':parent', style: {
      'background-opacity': 0.06, 'background-color': muted, 'border-width': 1, 'border-color': muted, 'border-style': 'solid',
      label: 'data(label)', 'text-valign': 'top', 'text-halign': 'center', 'font-size': 'data(fs)', 'font-weight': 'bold', 'text-margin-y': -3,
      'text-wrap': 'ellipsis', 'text-max-width': 'data(lw)', padding: 14, shape: 'round-rectangle', 'min-zoomed-font-size': 5,
    } },
    { selector: ':parent.grp-host', style: { 'border-width': 2, 'border-color': '#1e3a5f', 'background-color': '#1e3a5f', 'background-opacity': 0.07 } },
    { selector: ':parent.grp-tenant', style: { 'border-style': 'dashed', 'background-opacity': 0.1 } },
    { selector: ':parent.gr-actor', style: { 'border-color': '#b3261e', 'background-color': '#b3261e', 'border-width': 2.5, 'border-style': 'solid' } },
    { selector: ':parent.gr-victim', style: { 'border-color': '#b45309', 'background-color': '#f59e0b', 'border-width': 2 } },
    { selector: ':parent.gr-coresident', style: { 'border-color': '#a16207', 'background-color': '#fde68a' } },
    { selector: ':parent.grp-type', style: { 'border-style': 'dotted', 'border-width': 1.5, 'background-opacity': 0.03 } },
    { selector: 'edge', style: {
      width: 1.5, 'line-color': muted, 'curve-style': 'bezier', 'target-arrow-shape': 'none', label: 'data(label)', 'font-size': 9, 'font-family': font,
      color: fg, 'text-rotation': 'autorotate', 'min-zoomed-font-size': 9, 'text-background-color': bg, 'text-background-opacity': 0.85,
      'text-background-padding': 1, 'text-wrap': 'ellipsis', 'text-max-width': 160,
    } },
    { selector: 'edge.alert', style: { 'target-arrow-shape': 'triangle', 'arrow-scale': 0.8, 'target-arrow-color': muted } },
    { selector: 'edge.s4', style: { 'line-color': '#b3261e', 'target-arrow-color': '#b3261e', width: 2.5 } },
    { selector: 'edge.s3', style: { 'line-color': '#c2410c', 'target-arrow-color': '#c2410c', width: 2 } },
    { selector: 'edge.own', style: { 'line-style': 'dotted', width: 1.2, 'line-color': muted } },
    { selector: 'edge.dense', style: { 'line-opacity': 0.45, 'arrow-scale': 0.6 } },
    { selector: '.faded', style: { opacity: 0.12, 'text-opacity': 0 } },
    { selector: ':parent.faded', style: { opacity: 0.35, 'text-opacity': 0.6 } },
    { selector: 'node.focused', style: { 'overlay-color': '#2563eb', 'overlay-opacity': 0.18, 'overlay-padding': 8 } },
    { selector: 'edge.near', style: { 'min-zoomed-font-size': 0, width: 3, 'line-opacity': 1 } },
    { selector: 'node.near', style: { 'min-zoomed-font-size': 0 } },
    { selector: 'node:selected', style: { 'overlay-color': '#2563eb', 'overlay-opacity': 0.25 } },
  ];
}

function legendSwatch(shape, cls) {
  const s = { circle: el('circle', { cx: 9, cy: 9, r: 7 }), rect: el('rect', { x: 2, y: 4, width: 14, height: 10, rx: 3 }), square: el('rect', { x: 2, y: 4, width: 14, height: 10 }),
    hex: el('polygon', { points: '5,2 13,2 17,9 13,16 5,16 1,9' }), diamond: el('polygon', { points: '9,1 17,9 9,17 1,9' }),
    tri: el('polygon', { points: '9,2 17,16 1,16' }), oct: el('polygon', { points: '6,1 12,1 17,6 17,12 12,17 6,17 1,12 1,6' }),
    barrel: el('rect', { x: 1, y: 4, width: 16, height: 10, rx: 5 }), cut: el('polygon', { points: '4,3 14,3 17,6 17,15 1,15 1,6' }),
    line: el('line', { x1: 1, y1: 9, x2: 17, y2: 9 }) }[shape];
  return el('svg', { class: `lg ${cls}`, viewBox: '0 0 18 18', width: 18, height: 18, 'aria-hidden': 'true', focusable: 'false' }, s);
}

export function legend() {
  const item = (shape, cls, key) => el('li', {}, legendSwatch(shape, cls), el('span', {}, t(key)));
  return el('section', { class: 'graph-legend', 'aria-label': t('graph.legend') },
    el('h4', {}, t('graph.legend')),
    el('ul', {},
      item('oct', 'lg-actor', 'graph.lg.actor'), item('rect', 'lg-victim', 'graph.lg.victim'), item('rect', 'lg-coresident', 'graph.lg.coresident'),
      item('rect', 'lg-tenant', 'graph.lg.tenant'), item('rect', 'lg-blast', 'graph.lg.blast'), item('circle', 'lg-context', 'graph.lg.context'),
      item('square', 'lg-host', 'graph.lg.host'), item('circle', 'lg-vm', 'graph.lg.vm'), item('hex', 'lg-container', 'graph.lg.container'),
      item('diamond', 'lg-process', 'graph.lg.process'), item('tri', 'lg-account', 'graph.lg.account'), item('barrel', 'lg-ip', 'graph.lg.ip'),
      item('cut', 'lg-resource', 'graph.lg.resource'), item('line', 'lg-alert', 'graph.lg.alert'), item('line', 'lg-own', 'graph.lg.own'),
      item('rect', 'lg-hostgrp', 'graph.lg.hostgrp'), item('rect', 'lg-tenantgrp', 'graph.lg.tenantgrp'), item('rect', 'lg-typegrp', 'graph.lg.typegrp')));
}
