// Fenghuo console — the incident entity graph (cytoscape, vendored as one ES module).
//
// entityGraph(container, incident, {placements, links, onAlert}) draws the incident's `nodes`
// and `edges` (alerts, merged per entity pair and labelled by detector), adds the blast radius
// the API reports (co-resident tenants and their VMs on the hosts, from GET /hosts), groups
// entities in compound nodes (per host with a sub-group per tenant, or per tenant; what has
// neither is boxed per type), highlights attacker / victim / co-resident tenants and the blast
// radius, focuses a node's neighbourhood on click, and keeps node positions per incident and
// grouping in sessionStorage so a re-render (language switch, reload, coming back) shows the same
// picture. Readable at a few hundred entities (tests/ui/test_graph_scale.py).
//
// The parts, under graph/:
//   elements.js  the incident → cytoscape elements (pure)
//   layout.js    the structured layout of the grouped modes and its label sizes (pure)
//   style.js     cytoscape's stylesheet and the legend
//   view.js      the canvas, toolbar, detail panel and entity list (entityGraph)
//   messages.js  zh / en messages
export { entityGraph, loadCytoscape } from './graph/view.js';
export { buildElements } from './graph/elements.js';
export { structuredLayout } from './graph/layout.js';
