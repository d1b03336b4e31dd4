// The dashboard's entry point (docs/dashboard.md): shows the view the URL's hash names, and
// refreshes the header, the chart and that view every REFRESH_MS while the tab is visible.

import { $, showError } from './dom.js';
import { get, loadKinds } from './api.js';
import { CHART_MINUTES, fillKindPicker, mergeMinutes, renderChart, renderOverview } from './header.js';
import { route } from './views.js';

const REFRESH_MS = 3000;

/** The view shown now. */
let current = null;
let chartLoaded = false;
let refreshing = false;

async function refresh() {
  if (refreshing) return;
  refreshing = true;
  const live = $('[data-testid=live]');
  try {
    const [overview, throughput] = await Promise.all([
      get('/jobs/overview'),
      get(`/jobs/throughput?minutes=${chartLoaded ? 2 : CHART_MINUTES}`),
      current ? current.render() : null,
    ]);
    renderOverview(overview);
    mergeMinutes(throughput.minutes);
    chartLoaded = true;
    renderChart();
    showErrorIfNotNote(null);
    live.textContent = `live · ${new Date(overview.at).toLocaleTimeString()}`;
    live.classList.remove('stale');
  } catch (e) {
    live.textContent = 'not refreshing';
    live.classList.add('stale');
    showErrorIfNotNote(e);
  } finally {
    refreshing = false;
  }
}

/** A refresh shows its own failure and clears only that: a confirmation, or the error of something
 * the user just did (a refused payload), stays up until the next action. */
function showErrorIfNotNote(e) {
  const banner = $('[data-testid=error]');
  if (e) { showError(e, 'refresh'); return; }
  if (banner.dataset.source === 'refresh') showError(null);
}

function show() {
  showError(null); // a new view: what the last one said is done with
  current = route();
  $('[data-testid=view]').replaceChildren(current.node);
  refresh();
}

window.addEventListener('hashchange', show);
document.addEventListener('dashboard:changed', () => refresh());
$('[data-testid=chart-kind]').addEventListener('change', renderChart);
loadKinds().then(fillKindPicker).catch(() => {});
show();
setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
