// The dashboard: plain DOM code over the job API (docs/dashboard.md). Every value from the API
// goes into the page as text, never as HTML. Views follow the URL's hash (#/jobs, #/jobs/<id>,
// #/schedules, #/submit); the header, the chart and the open view refresh every REFRESH_MS.

const REFRESH_MS = 3000;
const CHART_MINUTES = 60;
const PAGE = 20;
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED']);
const STATUSES = ['QUEUED', 'RUNNING', 'RETRY_WAIT', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED'];
const TOKEN_KEY = 'keda-sqs-jobs.token';

const $ = (sel, root = document) => root.querySelector(sel);

/** Builds an element: h('a', {href: '#'}, 'text', child). Strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// ---- API calls -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

// `jobsctl ui` opens the page as /?token=…: keep it for this tab and take it out of the URL.
(function takeTokenFromUrl() {
  const url = new URL(location.href);
  const token = url.searchParams.get('token');
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
})();

async function api(method, path, body, headers = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (res.status === 401) askForToken();
  if (!res.ok) throw new ApiError(res.status, json);
  return { status: res.status, body: json };
}
const get = (path) => api('GET', path).then((r) => r.body);

function askForToken() {
  const form = $('[data-testid=token-form]');
  form.classList.remove('hidden');
  form.onsubmit = (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, form.token.value);
    form.classList.add('hidden');
    refresh();
  };
}

function showError(err) {
  const banner = $('[data-testid=error]');
  if (!err) { banner.classList.add('hidden'); return; }
  banner.className = 'banner';
  banner.textContent = err.status ? `${err.message} (HTTP ${err.status}${err.code ? `, ${err.code}` : ''})` : String(err.message || err);
}

function note(text) {
  const banner = $('[data-testid=error]');
  banner.className = 'banner note';
  banner.textContent = text;
  setTimeout(() => { if (banner.textContent === text) banner.classList.add('hidden'); }, 8000);
}

// ---- Formatting ------------------------------------------------------------------------------

function ago(iso) {
  if (!iso) return '–';
  return duration((Date.now() - Date.parse(iso)) / 1000) + ' ago';
}

function duration(secs) {
  if (secs === null || secs === undefined || Number.isNaN(secs)) return '–';
  if (secs < 1) return `${Math.round(Math.max(0, secs) * 1000)}ms`;
  secs = Math.round(secs);
  if (secs < 60) return `${secs}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m ${secs % 60}s`;
  if (secs < 86400) return `${Math.floor(secs / 3600)}h ${Math.floor((secs % 3600) / 60)}m`;
  return `${Math.floor(secs / 86400)}d ${Math.floor((secs % 86400) / 3600)}h`;
}

/** Children for replaceChildren: arrays flattened, absent parts left out. */
const nodes = (...parts) => parts.flat(Infinity).filter((p) => p !== null && p !== undefined && p !== false);
const time = (iso) => (iso ? new Date(iso).toLocaleString() : '–');
const badge = (status) => h('span', { class: `badge ${status}`, 'data-status': status }, status);
const json = (value) => h('pre', {}, value === undefined || value === null ? 'null' : JSON.stringify(value, null, 2));
const jobLink = (id) => h('a', { href: `#/jobs/${encodeURIComponent(id)}` }, id);

// ---- Header: tiles and chart -------------------------------------------------------------------

function setTile(name, value, alert = false) {
  const tile = $(`[data-tile=${name}]`);
  $('.n', tile).textContent = value;
  tile.classList.toggle('alert', alert);
}

const count = (c) => (c.capped ? `${c.count}+` : String(c.count));

function renderOverview(o) {
  setTile('queued', count(o.open.queued));
  setTile('running', count(o.open.running));
  setTile('retrying', count(o.open.retryWait));
  setTile('succeeded', o.counters.succeedJob);
  setTile('failed', o.counters.failedJob);
  setTile('cancelled', `${o.counters.cancelled} / ${o.counters.skipped}`);
  setTile('dead', o.deadLetters ?? 'n/a', (o.deadLetters ?? 0) > 0);
  setTile('oldest', o.oldestQueued ? duration(o.oldestQueued.ageSecs) : '–', (o.oldestQueued?.ageSecs ?? 0) > 300);
  $('[data-tile=oldest]').title = o.oldestQueued ? `job ${o.oldestQueued.jobId}` : 'no job waits';
}

/** The chart's minutes by start time; a refresh asks for the last 2 and replaces them. */
const minutes = new Map();

function mergeMinutes(list) {
  for (const m of list) minutes.set(m.start, m);
  const keep = [...minutes.keys()].sort().slice(-CHART_MINUTES);
  for (const k of [...minutes.keys()]) if (!keep.includes(k)) minutes.delete(k);
}

function renderChart() {
  const kind = $('[data-testid=chart-kind]').value;
  const data = [...minutes.keys()].sort().map((k) => {
    const m = minutes.get(k);
    const v = kind ? (m.kinds[kind] || { succeeded: 0, failed: 0 }) : m;
    return { start: k, ok: v.succeeded, bad: v.failed };
  });
  const W = 900, H = 150, top = 10, bottom = 20, left = 30;
  const max = Math.max(1, ...data.map((d) => d.ok + d.bad));
  const bw = (W - left) / CHART_MINUTES;
  const y = (v) => ((H - top - bottom) * v) / max;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('width', '100%');
  svg.setAttribute('role', 'img');
  const add = (tag, attrs, text) => {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.append(el);
    return el;
  };
  const base = H - bottom;
  add('line', { x1: left, x2: W, y1: base, y2: base, class: 'grid' });
  add('line', { x1: left, x2: W, y1: top, y2: top, class: 'grid' });
  add('text', { x: 0, y: top + 4 }, String(max));
  add('text', { x: 0, y: base }, '0');
  const offset = CHART_MINUTES - data.length;
  data.forEach((d, i) => {
    const x = left + (offset + i) * bw + 1;
    const g = document.createElementNS('http://www.w3.org/2000/svg', 'g');
    g.setAttribute('data-minute', d.start);
    const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    title.textContent = `${new Date(d.start).toLocaleTimeString()}: ${d.ok} succeeded, ${d.bad} failed`;
    g.append(title);
    for (const [cls, v, y0] of [['ok', d.ok, base - y(d.ok)], ['bad', d.bad, base - y(d.ok) - y(d.bad)]]) {
      if (!v) continue;
      const r = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      for (const [k, val] of Object.entries({ x, y: y0, width: Math.max(1, bw - 2), height: y(v), class: cls })) r.setAttribute(k, val);
      g.append(r);
    }
    svg.append(g);
    const last = i === data.length - 1;
    if ((i % 15 === 0 && data.length - i > 5) || last) {
      const label = new Date(d.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      add('text', last ? { x: x + bw - 2, y: H - 6, 'text-anchor': 'end' } : { x, y: H - 6 }, label);
    }
  });
  const total = data.reduce((a, d) => [a[0] + d.ok, a[1] + d.bad], [0, 0]);
  svg.setAttribute('aria-label', `last hour: ${total[0]} succeeded, ${total[1]} failed`);
  const box = $('[data-testid=chart]');
  box.replaceChildren(svg);
  box.dataset.succeeded = total[0];
  box.dataset.failed = total[1];
}

// ---- Kinds (the filters, the chart's picker and the submit form) -------------------------------

let kinds = null;
async function loadKinds() {
  if (!kinds) kinds = (await get('/jobs/kinds')).kinds;
  const picker = $('[data-testid=chart-kind]');
  if (picker.options.length === 1) {
    for (const k of kinds) picker.append(h('option', { value: k.name }, k.name));
    picker.append(h('option', { value: 'other' }, 'other'));
  }
  return kinds;
}

// ---- Views -----------------------------------------------------------------------------------

/** The view shown now: `render()` draws it, and is called again on each refresh. */
let current = null;

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (parts[0] || 'jobs'));
  if (parts[0] === 'jobs' && parts[1]) return jobView(decodeURIComponent(parts.slice(1).join('/')));
  if (parts[0] === 'schedules') return schedulesView();
  if (parts[0] === 'submit') return submitView(params);
  return jobsView(params);
}

function jobsView(params) {
  const filter = { status: params.get('status') || '', kind: params.get('kind') || '', schedule: params.get('schedule') || '' };
  const cursors = []; // cursors of the pages before this one
  let cursor = null;
  let next = null;
  const body = h('tbody');
  const older = h('button', { 'data-testid': 'older', onclick: () => { cursors.push(cursor); cursor = next; draw(); } }, 'Older →');
  const newer = h('button', { 'data-testid': 'newer', onclick: () => { cursor = cursors.pop() ?? null; draw(); } }, '← Newer');
  const setFilter = (name) => (e) => {
    filter[name] = e.target.value.trim();
    const q = new URLSearchParams(Object.entries(filter).filter(([, v]) => v));
    location.hash = `#/jobs${q.toString() ? `?${q}` : ''}`;
  };
  const kindSelect = h('select', { name: 'kind', onchange: setFilter('kind') }, h('option', { value: '' }, 'any'));
  loadKinds().then((ks) => {
    for (const k of ks) kindSelect.append(h('option', { value: k.name, selected: k.name === filter.kind }, k.name));
  }).catch(showError);
  const view = h('div', {},
    h('h2', {}, 'Jobs'),
    h('div', { class: 'filters' },
      h('label', {}, 'Status', h('select', { name: 'status', 'data-testid': 'filter-status', onchange: setFilter('status') },
        h('option', { value: '' }, 'any'), STATUSES.map((s) => h('option', { value: s, selected: s === filter.status }, s)))),
      h('label', {}, 'Kind', kindSelect),
      h('label', {}, 'Schedule', h('input', { name: 'schedule', value: filter.schedule, placeholder: 'name', onchange: setFilter('schedule') }))),
    h('table', { 'data-testid': 'jobs' },
      h('thead', {}, h('tr', {}, ['Job', 'Kind', 'Status', 'Attempts', 'Submitted by', 'Created', 'Finished', ''].map((t) => h('th', {}, t)))),
      body),
    h('div', { class: 'pager' }, newer, older));

  async function draw() {
    const q = new URLSearchParams({ limit: PAGE });
    for (const [k, v] of Object.entries(filter)) if (v) q.set(k, v);
    if (cursor) q.set('cursor', cursor);
    const page = await get(`/jobs?${q}`);
    next = page.nextCursor;
    older.disabled = !next;
    newer.disabled = cursors.length === 0;
    body.replaceChildren(...(page.jobs.length ? page.jobs.map(jobRow) : [h('tr', { class: 'empty' }, h('td', { colspan: 8 }, 'No jobs match.'))]));
  }
  return { node: view, render: draw };
}

function jobRow(j) {
  return h('tr', { 'data-job': j.jobId, 'data-status': j.status },
    h('td', { class: 'mono' }, jobLink(j.jobId)),
    h('td', {}, j.job ?? '–'),
    h('td', {}, badge(j.status)),
    h('td', { class: 'num' }, j.attempts),
    h('td', {}, j.submittedBy ?? '–'),
    h('td', { title: time(j.createdAt) }, ago(j.createdAt)),
    h('td', { title: time(j.finishedAt) }, j.finishedAt ? ago(j.finishedAt) : '–'),
    h('td', {}, jobActions(j)));
}

function jobActions(j) {
  const out = [];
  if (!TERMINAL.has(j.status)) {
    out.push(h('button', { class: 'danger', 'data-action': 'cancel', onclick: () => act(cancelJob(j.jobId)) }, j.cancelRequestedAt ? 'Cancelling…' : 'Cancel'));
  }
  if (j.status === 'FAILED' || j.status === 'CANCELLED') {
    out.push(h('button', { 'data-action': 'retry', onclick: () => act(retryJob(j.jobId)) }, 'Retry'));
  }
  return out;
}

async function cancelJob(id) {
  const r = await api('POST', `/jobs/${encodeURIComponent(id)}/cancel`);
  note(r.status === 202 ? `Job ${id}: its worker was asked to stop it.` : `Job ${id} is CANCELLED.`);
}

async function retryJob(id) {
  const r = await api('POST', `/jobs/${encodeURIComponent(id)}/retry`, undefined, { 'Idempotency-Key': `ui-retry-${crypto.randomUUID()}` });
  location.hash = `#/jobs/${encodeURIComponent(r.body.jobId)}`;
  note(`Job ${id} retried as ${r.body.jobId}.`);
}

/** Runs an action, shows its error, then refreshes. */
async function act(promise) {
  try { await promise; } catch (e) { showError(e); return; }
  refresh();
}

function jobView(id) {
  const box = h('div', {});
  async function draw() {
    let j;
    try {
      j = await get(`/jobs/${encodeURIComponent(id)}`);
    } catch (e) {
      if (e.status === 404) { box.replaceChildren(h('h2', {}, `No job ${id}`)); return; }
      throw e;
    }
    const runs = j.attemptHistory.slice().reverse();
    box.replaceChildren(...nodes(
      h('h2', {}, 'Job ', h('span', { class: 'mono', 'data-testid': 'job-id' }, j.jobId), ' ', h('span', { 'data-testid': 'job-status' }, badge(j.status))),
      h('div', { class: 'actions' }, jobActions(j)),
      h('dl', { class: 'facts' },
        ...[
          ['Kind', j.job ?? '–'], ['Attempts', j.attempts], ['Source', j.source ?? '–'],
          ['Schedule', j.schedule ? h('a', { href: `#/jobs?schedule=${encodeURIComponent(j.schedule)}` }, j.schedule) : '–'],
          ['Submitted by', j.submittedBy ?? '–'], ['Created', time(j.createdAt)], ['Started', time(j.startedAt)],
          ['Finished', time(j.finishedAt)], ['Next attempt', j.nextAttemptAt ? time(j.nextAttemptAt) : '–'],
          ['Retry of', j.retryOf ? jobLink(j.retryOf) : '–'], ['Retried by', j.retriedBy ? jobLink(j.retriedBy) : '–'],
          ['Cancel requested', j.cancelRequestedAt ? time(j.cancelRequestedAt) : '–'],
        ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      j.lastError ? [h('h3', {}, 'Last error'), h('div', { class: 'error-text', 'data-testid': 'last-error' }, j.lastError)] : null,
      h('h3', {}, 'Payload'), json(j.payload),
      j.result !== null && j.result !== undefined ? [h('h3', {}, 'Result'), h('div', { 'data-testid': 'result' }, json(j.result))] : null,
      h('h3', {}, 'Attempts'),
      h('table', { 'data-testid': 'attempts' },
        h('thead', {}, h('tr', {}, ['#', 'Outcome', 'Started', 'Duration', 'Error', 'Worker', 'Logs'].map((t) => h('th', {}, t)))),
        h('tbody', {}, runs.length ? runs.map((r) => h('tr', {},
          h('td', { class: 'num' }, r.attempt), h('td', {}, r.outcome), h('td', {}, time(r.startedAt)),
          h('td', { class: 'num' }, duration(r.durationMs / 1000)), h('td', { class: 'error-text' }, r.error ?? ''),
          h('td', { class: 'mono' }, r.worker ?? '–'), h('td', { class: 'mono' }, r.logs ?? '–'))) : h('tr', { class: 'empty' }, h('td', { colspan: 7 }, 'Not run yet.'))))));
  }
  return { node: box, render: draw };
}

function schedulesView() {
  const body = h('tbody');
  const view = h('div', {}, h('h2', {}, 'Schedules'),
    h('table', { 'data-testid': 'schedules' },
      h('thead', {}, h('tr', {}, ['Name', 'Expression', 'Time zone', 'State', 'Kind', 'Overlap', 'Next fire', 'Last run', ''].map((t) => h('th', {}, t)))),
      body));
  async function draw() {
    const list = (await get('/jobs/schedules')).schedules;
    // The last run is read per schedule (GET /jobs/schedules/{name}).
    const full = await Promise.all(list.map((s) => get(`/jobs/schedules/${encodeURIComponent(s.name)}`).catch(() => s)));
    body.replaceChildren(...(full.length ? full.map(scheduleRow) : [h('tr', { class: 'empty' }, h('td', { colspan: 9 }, 'No schedules. Create one with jobsctl schedule create or POST /jobs/schedule.'))]));
  }
  return { node: view, render: draw };
}

function scheduleRow(s) {
  const paused = s.state === 'DISABLED';
  const toggle = () => act(api('PATCH', `/jobs/schedules/${encodeURIComponent(s.name)}`, { state: paused ? 'ENABLED' : 'DISABLED' })
    .then(() => note(`Schedule ${s.name} ${paused ? 'resumed' : 'paused'}.`)));
  return h('tr', { 'data-schedule': s.name, 'data-state': s.state },
    h('td', {}, h('a', { href: `#/jobs?schedule=${encodeURIComponent(s.name)}` }, s.name)),
    h('td', { class: 'mono' }, s.expression), h('td', {}, s.timezone), h('td', {}, badge(s.state)),
    h('td', {}, s.job ?? '–'), h('td', {}, s.overlap),
    h('td', { title: s.nextFireTimes.join('\n') }, s.nextFireTimes[0] ?? '–'),
    h('td', {}, s.lastRun ? [jobLink(s.lastRun.jobId), ' ', badge(s.lastRun.status)] : '–'),
    h('td', {}, h('button', { 'data-action': paused ? 'resume' : 'pause', onclick: toggle }, paused ? 'Resume' : 'Pause')));
}

/** An example payload from a kind's schema: each property's default, else a value of its type. */
function examplePayload(schema) {
  const props = schema?.properties || {};
  const out = {};
  for (const [name, p] of Object.entries(props)) {
    if ('default' in p) out[name] = p.default;
    else if ((schema.required || []).includes(name)) {
      const type = Array.isArray(p.type) ? p.type[0] : p.type;
      out[name] = type === 'integer' || type === 'number' ? (p.minimum ?? 0) : type === 'boolean' ? false : type === 'array' ? [] : '';
    }
  }
  return out;
}

function submitView(params) {
  const form = h('form', { class: 'submit', 'data-testid': 'submit-form' });
  const details = h('div', {});
  const payload = h('textarea', { name: 'payload', spellcheck: 'false' });
  const select = h('select', { name: 'job', 'data-testid': 'submit-kind' });
  const key = h('input', { name: 'key', placeholder: 'optional: a retried submit with the same key is one job' });
  const describe = () => {
    const k = kinds.find((x) => x.name === select.value);
    const props = Object.entries(k.payloadSchema?.properties || {});
    details.replaceChildren(
      h('p', {}, k.description),
      h('p', { class: 'muted' }, `${k.policy.maxAttempts} attempts, backoff ${k.policy.backoffBaseSecs}s doubling to ${k.policy.backoffMaxSecs}s, ${k.policy.timeoutSecs}s per attempt.`),
      props.length ? h('table', {}, h('thead', {}, h('tr', {}, ['Field', 'Type', 'Default', 'About'].map((t) => h('th', {}, t)))),
        h('tbody', {}, props.map(([n, p]) => h('tr', {}, h('td', { class: 'mono' }, n), h('td', {}, [].concat(p.type ?? 'any').join(' | ')),
          h('td', { class: 'mono' }, 'default' in p ? JSON.stringify(p.default) : '–'), h('td', {}, p.description ?? ''))))) : h('p', { class: 'muted' }, 'No payload.'));
    payload.value = JSON.stringify(examplePayload(k.payloadSchema), null, 2);
  };
  form.append(
    h('h2', {}, 'Submit a job'),
    h('label', {}, 'Kind', select), details,
    h('label', {}, 'Payload (JSON)', payload),
    h('label', {}, 'Idempotency key', key),
    h('div', {}, h('button', { class: 'primary', type: 'submit', 'data-testid': 'submit' }, 'Submit')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let body;
    try {
      const text = payload.value.trim();
      body = { job: select.value, payload: text ? JSON.parse(text) : null };
    } catch (err) {
      showError(new Error(`The payload is not JSON: ${err.message}`));
      return;
    }
    try {
      const r = await api('POST', '/jobs', body, key.value.trim() ? { 'Idempotency-Key': key.value.trim() } : {});
      note(`Job ${r.body.jobId} accepted.`);
      location.hash = `#/jobs/${encodeURIComponent(r.body.jobId)}`;
    } catch (err) { showError(err); }
  });
  loadKinds().then((ks) => {
    for (const k of ks) select.append(h('option', { value: k.name, selected: k.name === params.get('job') }, k.name));
    select.addEventListener('change', describe);
    describe();
  }).catch(showError);
  // The form keeps what the operator typed: it is not redrawn by the refresh.
  return { node: form, render: async () => {} };
}

// ---- Refresh loop ----------------------------------------------------------------------------

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

function showErrorIfNotNote(e) {
  const banner = $('[data-testid=error]');
  if (!e && banner.classList.contains('note')) return; // leave a confirmation up until the next action
  showError(e);
}

function show() {
  current = route();
  $('[data-testid=view]').replaceChildren(current.node);
  refresh();
}

window.addEventListener('hashchange', show);
$('[data-testid=chart-kind]').addEventListener('change', renderChart);
loadKinds().catch(() => {});
show();
setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
