// The views, one per hash route (#/jobs, #/jobs/<id>, #/schedules, #/submit; #/pools in
// pools.js, #/tenants in tenants.js). Each returns { node, render }: the page shows `node` and calls `render()` on every
// refresh.

import { $, ago, badge, duration, h, jobLink, json, nodes, note, showError, time } from './dom.js';
import { api, changed, get, loadKinds } from './api.js';
import { poolsView } from './pools.js';
import { tenantsView } from './tenants.js';

const PAGE = 20;
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED']);
const STATUSES = ['WAITING', 'QUEUED', 'RUNNING', 'RETRY_WAIT', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED'];

export function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (parts[0] || 'jobs'));
  if (parts[0] === 'jobs' && parts[1]) return jobView(decodeURIComponent(parts.slice(1).join('/')));
  if (parts[0] === 'schedules') return schedulesView();
  if (parts[0] === 'submit') return submitView(params);
  if (parts[0] === 'pools') return poolsView();
  if (parts[0] === 'tenants') return tenantsView(params);
  return jobsView(params);
}


function jobsView(params) {
  const filter = { status: params.get('status') || '', kind: params.get('kind') || '', schedule: params.get('schedule') || '', tenant: params.get('tenant') || '' };
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
      h('label', {}, 'Schedule', h('input', { name: 'schedule', value: filter.schedule, placeholder: 'name', onchange: setFilter('schedule') })),
      h('label', {}, 'Tenant', h('input', { name: 'tenant', 'data-testid': 'filter-tenant', value: filter.tenant, placeholder: 'name', onchange: setFilter('tenant') }))),
    h('table', { 'data-testid': 'jobs' },
      h('thead', {}, h('tr', {}, ['Job', 'Kind', 'Pool', 'Status', 'Attempts', 'Tenant', 'Submitted by', 'Created', 'Finished', 'Note', ''].map((t) => h('th', {}, t)))),
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
    body.replaceChildren(...(page.jobs.length ? page.jobs.map(jobRow) : [h('tr', { class: 'empty' }, h('td', { colspan: 11 }, 'No jobs match.'))]));
  }
  return { node: view, render: draw };
}

function jobRow(j) {
  return h('tr', { 'data-job': j.jobId, 'data-status': j.status },
    h('td', { class: 'mono' }, jobLink(j.jobId)),
    h('td', {}, j.job ?? '–'),
    h('td', {}, poolCell(j)),
    h('td', {}, badge(j.status)),
    h('td', { class: 'num' }, j.attempts),
    h('td', { 'data-testid': 'job-tenant' }, tenantLink(j.tenant)),
    h('td', {}, j.submittedBy ?? '–'),
    h('td', { title: time(j.createdAt) }, ago(j.createdAt)),
    h('td', { title: time(j.finishedAt) }, j.finishedAt ? ago(j.finishedAt) : '–'),
    h('td', { class: 'note', 'data-testid': 'job-note', title: j.lastError ?? '' }, jobNote(j)),
    h('td', {}, jobActions(j)));
}

/** A tenant, linked to its jobs. */
const tenantLink = (t) => (t ? h('a', { href: `#/jobs?tenant=${encodeURIComponent(t)}` }, t) : '–');

/** The job's pool, and a mark when it has high priority. */
function poolCell(j) {
  const pool = j.pool ? h('a', { href: '#/pools' }, j.pool) : '–';
  return j.priority === 'high' ? [pool, ' ', h('span', { class: 'badge high', 'data-testid': 'priority-high' }, 'high')] : pool;
}

/** What a row waits for or why it ended: the next attempt's time (RETRY_WAIT), then the error. */
function jobNote(j) {
  const parts = [];
  if (j.status === 'WAITING' && j.waitingFor) parts.push(h('span', { 'data-testid': 'waiting-for' }, `waiting: ${j.waitingFor}`));
  if (j.status === 'RETRY_WAIT' && j.nextAttemptAt) {
    parts.push(h('span', { 'data-testid': 'next-attempt', title: time(j.nextAttemptAt) }, `next attempt ${until(j.nextAttemptAt)}`));
  }
  if (j.lastError) parts.push(h('span', { class: 'error-text' }, short(j.lastError, 80)));
  return parts.length ? parts.flatMap((p, i) => (i ? [' · ', p] : [p])) : '';
}

const short = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
/** "in 12s" for a time ahead, "due now" for one passed. */
const until = (iso) => {
  const secs = (Date.parse(iso) - Date.now()) / 1000;
  return secs > 0 ? `in ${duration(secs)}` : 'due now';
};

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
  changed();
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
    // Runs are numbered from 1 in the order the API lists them (oldest first); shown newest first.
    const runs = j.attemptHistory.map((r, i) => ({ ...r, n: i + 1 })).reverse();
    const first = j.firstStartedAt, last = j.startedAt;
    box.replaceChildren(...nodes(
      h('h2', {}, 'Job ', h('span', { class: 'mono', 'data-testid': 'job-id' }, j.jobId), ' ', h('span', { 'data-testid': 'job-status' }, badge(j.status))),
      h('div', { class: 'actions' }, jobActions(j)),
      h('dl', { class: 'facts' },
        ...[
          ['Kind', j.job ?? '–'], ['Pool', h('span', { 'data-testid': 'job-pool' }, poolCell(j))],
          ['Priority', h('span', { 'data-testid': 'job-priority' }, j.priority)], ['Attempts', j.attempts], ['Source', j.source ?? '–'],
          ['Schedule', j.schedule ? h('a', { href: `#/jobs?schedule=${encodeURIComponent(j.schedule)}` }, j.schedule) : '–'],
          ['Tenant', h('span', { 'data-testid': 'job-tenant' }, tenantLink(j.tenant), j.holdsSlot ? ' (holds one of its slots)' : '')],
          ['Submitted by', j.submittedBy ?? '–'], ['Created', time(j.createdAt)],
          ['First started', h('span', { 'data-testid': 'first-started' }, time(first))],
          ['Last started', h('span', { 'data-testid': 'last-started' }, last && last !== first ? time(last) : (last ? 'the first start' : '–'))],
          ['Finished', time(j.finishedAt)], ['Next attempt', j.nextAttemptAt ? time(j.nextAttemptAt) : '–'],
          ['Retry of', j.retryOf ? jobLink(j.retryOf) : '–'], ['Retried by', j.retriedBy ? jobLink(j.retriedBy) : '–'],
          ['Cancel requested', j.cancelRequestedAt ? time(j.cancelRequestedAt) : '–'],
        ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      j.status === 'WAITING' ? [h('h3', {}, 'Why it waits'), h('div', { 'data-testid': 'waiting-for' }, `${j.waitingFor ?? 'its tenant is over its limits'}: admitted as soon as the tenant is under them (`, h('a', { href: `#/tenants?tenant=${encodeURIComponent(j.tenant)}` }, 'its limits'), ').')] : null,
      j.lastError ? [h('h3', {}, errorTitle(j.status)), h('div', { class: 'error-text', 'data-testid': 'last-error' }, j.lastError)] : null,
      h('h3', {}, 'Payload'), json(j.payload),
      j.result !== null && j.result !== undefined ? [h('h3', {}, 'Result'), h('div', { 'data-testid': 'result' }, json(j.result))] : null,
      // What an interrupted run of this attempt saved: where the next run goes on from.
      j.checkpoint ? [h('h3', {}, 'Saved progress (checkpoint)'), h('div', { 'data-testid': 'checkpoint' }, json(j.checkpoint))] : null,
      h('h3', {}, 'Attempts'),
      h('table', { 'data-testid': 'attempts' },
        h('thead', {}, h('tr', {}, ['#', 'Outcome', 'Started', 'Duration', 'Error', 'Worker', 'Logs'].map((t) => h('th', {}, t)))),
        h('tbody', {}, runs.length ? runs.map((r) => h('tr', { 'data-run': r.n, 'data-outcome': r.outcome },
          h('td', { class: 'num' }, r.attempt), h('td', {}, r.outcome), h('td', {}, time(r.startedAt)),
          h('td', { class: 'num' }, duration(r.durationMs === null ? (Date.now() - Date.parse(r.startedAt)) / 1000 : r.durationMs / 1000)),
          h('td', { class: 'error-text' }, r.error ?? ''),
          h('td', { class: 'mono' }, r.worker ?? '–'),
          h('td', {}, r.logs ? h('a', { href: '#', 'data-action': 'log', title: r.logs, onclick: (e) => { e.preventDefault(); showLog(j.jobId, r.n); } }, 'log') : '–')))
          : h('tr', { class: 'empty' }, h('td', { colspan: 7 }, 'Not started yet.')))),
      logBox));
  }
  /** The run's log below the table: its lines, or why there are none here. */
  async function showLog(jobId, n) {
    logBox.replaceChildren(h('h3', {}, `Log of run ${n}`), h('p', { class: 'muted' }, 'loading…'));
    let content;
    try {
      const r = await api('GET', `/jobs/${encodeURIComponent(jobId)}/runs/${n}/log`);
      content = h('pre', { class: 'log', 'data-testid': 'log' }, r.text || '(empty)');
    } catch (e) {
      content = h('p', { class: 'muted', 'data-testid': 'log-missing', 'data-code': e.code ?? '' }, e.message);
    }
    logBox.replaceChildren(h('h3', {}, `Log of run ${n}`), content);
  }
  const logBox = h('div', { 'data-testid': 'log-box' });
  return { node: box, render: draw };
}

/** The heading of a job's error: why it waits, or why it ended. */
function errorTitle(status) {
  return { RETRY_WAIT: 'Why it waits to retry', FAILED: 'Why it failed', CANCELLED: 'Why it was cancelled', SKIPPED: 'Why it was skipped' }[status] ?? 'Last error';
}

function schedulesView() {
  const body = h('tbody');
  const view = h('div', {}, h('h2', {}, 'Schedules'),
    h('table', { 'data-testid': 'schedules' },
      h('thead', {}, h('tr', {}, ['Name', 'Expression', 'Time zone', 'State', 'Kind', 'Tenant', 'Overlap', 'Next fire', 'Last run', ''].map((t) => h('th', {}, t)))),
      body));
  async function draw() {
    const list = (await get('/jobs/schedules')).schedules;
    body.replaceChildren(...(list.length ? list.map(scheduleRow) : [h('tr', { class: 'empty' }, h('td', { colspan: 10 }, 'No schedules. Create one with jobsctl schedule create or POST /jobs/schedules.'))]));
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
    h('td', {}, s.job ?? '–', s.priority === 'high' ? [' ', h('span', { class: 'badge high' }, 'high')] : ''),
    h('td', {}, tenantLink(s.tenant)), h('td', {}, s.overlap),
    // Times in the browser's zone (the API gives them in the schedule's).
    h('td', { 'data-testid': 'next-fire', 'data-at': s.nextFireTimes[0] ?? '', title: s.nextFireTimes.map(time).join('\n') }, s.nextFireTimes[0] ? time(s.nextFireTimes[0]) : '–'),
    h('td', { 'data-testid': 'last-run' }, s.lastRun
      ? [badge(s.lastRun.status), ' ', h('span', { title: time(s.lastRun.at) }, ago(s.lastRun.at)), ' ', jobLink(s.lastRun.jobId)] : '–'),
    h('td', {}, h('button', { 'data-action': paused ? 'resume' : 'pause', onclick: toggle }, paused ? 'Resume' : 'Pause')));
}

function submitView(params) {
  const form = h('form', { class: 'submit', 'data-testid': 'submit-form' });
  const details = h('div', {});
  const payload = h('textarea', { name: 'payload', spellcheck: 'false' });
  const select = h('select', { name: 'job', 'data-testid': 'submit-kind' });
  const key = h('input', { name: 'key', placeholder: 'optional: a retried submit with the same key is one job' });
  const priority = h('select', { name: 'priority', 'data-testid': 'submit-priority' },
    h('option', { value: 'normal' }, 'normal'), h('option', { value: 'high' }, 'high: before every normal job of its pool still waiting'));
  const tenant = h('input', { name: 'tenant', 'data-testid': 'submit-tenant', placeholder: 'optional: whose job it is (default: your own tenant)' });
  let kinds = [];
  const describe = () => {
    const k = kinds.find((x) => x.name === select.value);
    const props = Object.entries(k.payloadSchema?.properties || {});
    const runtime = k.command
      ? `A command: ${k.command.command.join(' ')} (image ${k.command.image}${k.command.workingDir ? `, in ${k.command.workingDir}` : ''})${k.command.permanentExitCodes.length ? `; exit ${k.command.permanentExitCodes.join(', ')} fails the job at once` : ''}.`
      : 'A Rust function of the worker.';
    details.replaceChildren(
      h('p', {}, k.description),
      h('p', { class: 'muted', 'data-testid': 'kind-runtime', 'data-runtime': k.runtime }, runtime),
      h('p', { class: 'muted' }, `Runs in the ${k.pool} pool; ${k.policy.maxAttempts} attempts, backoff ${k.policy.backoffBaseSecs}s doubling to ${k.policy.backoffMaxSecs}s, ${k.policy.timeoutSecs}s per attempt.`),
      props.length ? h('table', {}, h('thead', {}, h('tr', {}, ['Field', 'Type', 'Default', 'About'].map((t) => h('th', {}, t)))),
        h('tbody', {}, props.map(([n, p]) => h('tr', {}, h('td', { class: 'mono' }, n), h('td', {}, [].concat(p.type ?? 'any').join(' | ')),
          h('td', { class: 'mono' }, 'default' in p ? JSON.stringify(p.default) : '–'), h('td', {}, p.description ?? ''))))) : h('p', { class: 'muted' }, 'No payload.'));
    // The kind's own example: a payload that passes its checks.
    payload.value = JSON.stringify(k.example ?? {}, null, 2);
  };
  form.append(
    h('h2', {}, 'Submit a job'),
    h('label', {}, 'Kind', select), details,
    h('label', {}, 'Payload (JSON)', payload),
    h('label', {}, 'Priority', priority),
    h('label', {}, 'Tenant', tenant),
    h('label', {}, 'Idempotency key', key),
    h('div', {}, h('button', { class: 'primary', type: 'submit', 'data-testid': 'submit' }, 'Submit')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let body;
    try {
      const text = payload.value.trim();
      body = { job: select.value, payload: text ? JSON.parse(text) : null, priority: priority.value };
      if (tenant.value.trim()) body.tenant = tenant.value.trim();
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
    kinds = ks;
    for (const k of ks) select.append(h('option', { value: k.name, selected: k.name === params.get('job') }, k.name));
    select.addEventListener('change', describe);
    describe();
  }).catch(showError);
  // The form keeps what the operator typed: it is not redrawn by the refresh.
  return { node: form, render: async () => {} };
}

