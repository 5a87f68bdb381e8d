// The console's views, in navigation order. Each module exports default
// { id, pattern, nav, roles, messages, async render(root, match, ctx) } — see app.js.
import login from './login.js';
import overview from './overview.js';
import alerts from './alerts.js';
import incidents from './incidents.js';
import incident from './incident.js';
import tenants from './tenants.js';
import hosts from './hosts.js';
import detectors from './detectors.js';
import reports from './reports.js';
// other views: add an import above and the name to the array below (one line each)

export default [
  overview,
  alerts,
  incidents,
  incident,
  tenants,
  hosts,
  detectors,
  reports,
  login,
];
