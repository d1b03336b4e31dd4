// #/tenants: each tenant's limits (its own over the config's defaults), what it uses now and its
// outcomes of the last minutes (a tenant named in tenants.metrics), and a form that changes a
// tenant's limits at run time (PUT /tenants/{tenant}; docs/tenants.md).
// The form is drawn once: a refresh redraws the table only, never what is being typed.

import { h, note, showError } from './dom.js';
import { api, changed, get } from './api.js';

const FIELDS = [
  ['maxRunning', 'Max running', 'jobs holding a slot at once; 0 pauses the tenant'],
  ['maxStartsPerMinute', 'Max starts / min', 'jobs admitted per minute'],
  ['weight', 'Weight', "its share: the default max running times this (1-100)"],
];

export function tenantsView(params) {
  const body = h('tbody');
  const defaults = h('p', { class: 'muted', 'data-testid': 'tenant-defaults' });
  const form = editForm(params.get('tenant') || '');
  const view = h('div', {},
    h('h2', {}, 'Tenants'),
    h('p', { class: 'muted' }, 'A job over its tenant\'s limits waits (WAITING) without a pod, and is admitted oldest first (high priority first) as soon as the tenant is under its limits. Slots: jobs admitted and not ended.'),
    defaults,
    form.node,
    h('table', { 'data-testid': 'tenants' },
      h('thead', {}, h('tr', {}, ['Tenant', 'Max running', 'Max starts / min', 'Weight', 'Slots', 'Running', 'Queued', 'Waiting', 'Starts this min', 'Succeeded / failed, 10 min', '']
        .map((t) => h('th', {}, t)))),
      body));
  async function draw() {
    const [list, throughput] = await Promise.all([get('/tenants?limit=50'), get(`/jobs/throughput?minutes=${OUTCOME_MINUTES}`)]);
    const d = list.defaults;
    defaults.textContent = `Defaults for a tenant without its own: max running ${limit(d.maxRunning)}, max starts per minute ${limit(d.maxStartsPerMinute)}, weight ${d.weight} (infra-cdk8s/config.json).`;
    const outcomes = outcomesByTenant(throughput.minutes);
    body.replaceChildren(...list.tenants.map((t) => tenantRow(t, outcomes, form.fill)));
  }
  return { node: view, render: draw };
}

const limit = (v) => (v === null || v === undefined ? 'none' : String(v));

/** Minutes of outcomes shown per tenant. */
const OUTCOME_MINUTES = 10;

/** Succeeded and failed per tenant label over the minutes read (`(other)`: every tenant the
 * config does not name for metrics). */
function outcomesByTenant(minutes) {
  const out = new Map();
  for (const m of minutes) {
    for (const [label, o] of Object.entries(m.tenants ?? {})) {
      const sum = out.get(label) ?? { succeeded: 0, failed: 0 };
      out.set(label, { succeeded: sum.succeeded + o.succeeded, failed: sum.failed + o.failed });
    }
  }
  return out;
}

function tenantRow(t, outcomes, edit) {
  const mine = (k) => (t.settings[k] === undefined ? 'default' : 'its own');
  const cell = (k) => h('td', { class: 'num', title: mine(k) }, limit(t.limits[k]), t.settings[k] === undefined ? '' : ' *');
  const u = t.usage;
  const full = t.limits.maxRunning !== null && u.active >= t.limits.maxRunning;
  return h('tr', { 'data-tenant': t.tenant },
    h('td', {}, h('a', { href: `#/jobs?tenant=${encodeURIComponent(t.tenant)}` }, t.tenant)),
    cell('maxRunning'), cell('maxStartsPerMinute'), cell('weight'),
    h('td', { class: `num${full ? ' warn' : ''}`, 'data-testid': 'tenant-active' }, u.active),
    h('td', { class: 'num', 'data-testid': 'tenant-running' }, u.running),
    h('td', { class: 'num' }, u.queued),
    h('td', { class: 'num', 'data-testid': 'tenant-waiting' }, h('a', { href: `#/jobs?tenant=${encodeURIComponent(t.tenant)}&status=WAITING` }, u.capped ? `${u.waiting}+` : u.waiting)),
    h('td', { class: 'num' }, u.startsThisMinute),
    outcomeCell(outcomes.get(t.tenant)),
    h('td', {}, h('button', { 'data-testid': 'tenant-edit', onclick: () => edit(t) }, 'Edit')));
}

/** A named tenant's outcomes; any other counts under `(other)` (docs/tenants.md#metrics). */
function outcomeCell(o) {
  if (!o) return h('td', { class: 'num muted', title: 'no outcome in the last minutes, or the tenant is not named in tenants.metrics (counted as (other))' }, '–');
  return h('td', { class: 'num', 'data-testid': 'tenant-outcomes' }, `${o.succeeded} / `, h('span', { class: o.failed ? 'error-text' : '' }, o.failed));
}

/** The form: a tenant's name and its limits; empty fields return to the default. */
function editForm(initial) {
  const name = h('input', { name: 'tenant', required: true, pattern: '[A-Za-z0-9._\\-]{1,64}', placeholder: 'tenant', value: initial, 'data-testid': 'tenant-name' });
  const inputs = Object.fromEntries(FIELDS.map(([k, , hint]) => [k, h('input', { name: k, type: 'number', min: k === 'weight' ? 1 : 0, step: 1, placeholder: 'default', title: hint, 'data-testid': `tenant-${k}` })]));
  const save = async (e) => {
    e.preventDefault();
    const change = {};
    for (const [k] of FIELDS) change[k] = inputs[k].value.trim() === '' ? null : Number(inputs[k].value);
    try {
      const r = await api('PUT', `/tenants/${encodeURIComponent(name.value.trim())}`, change);
      const t = r.body;
      note(`Tenant ${t.tenant}: max running ${limit(t.limits.maxRunning)}, max starts per minute ${limit(t.limits.maxStartsPerMinute)}, weight ${t.limits.weight}; ${t.usage.active} slots held, ${t.usage.waiting} waiting.`);
    } catch (err) { showError(err); return; }
    changed();
  };
  const reset = async () => {
    try {
      await api('DELETE', `/tenants/${encodeURIComponent(name.value.trim())}`);
      note(`Tenant ${name.value.trim()} follows the defaults.`);
      for (const [k] of FIELDS) inputs[k].value = '';
    } catch (err) { showError(err); return; }
    changed();
  };
  const node = h('form', { class: 'tenant-form', 'data-testid': 'tenant-form', onsubmit: save },
    h('label', {}, 'Tenant ', name),
    FIELDS.map(([k, label]) => h('label', {}, `${label} `, inputs[k])),
    h('button', { type: 'submit', 'data-testid': 'tenant-save' }, 'Save limits'),
    h('button', { type: 'button', 'data-testid': 'tenant-reset', onclick: reset }, 'Reset to defaults'));
  const fill = (t) => {
    name.value = t.tenant;
    for (const [k] of FIELDS) inputs[k].value = t.settings[k] ?? '';
    name.focus();
  };
  return { node, fill };
}
