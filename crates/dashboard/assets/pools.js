// #/pools: each pool's shape, time limit, capacity, concurrency and execution, its kinds, and its
// queues now (waiting, running; the high-priority queue apart).

import { h } from './dom.js';
import { get } from './api.js';

export function poolsView() {
  const body = h('tbody');
  const view = h('div', {},
    h('h2', {}, 'Pools'),
    h('p', { class: 'muted' }, 'Each kind runs in its pool: its own queues (high priority first), pods, capacity and limits. Waiting and running are the queues\' counts now.'),
    h('table', { 'data-testid': 'pools' },
      h('thead', {}, h('tr', {}, ['Pool', 'Capacity', 'CPU', 'Memory', 'Time limit', 'Max pods', 'Execution', 'Waiting', 'High waiting', 'Running', 'Kinds']
        .map((t) => h('th', {}, t)))),
      body));
  async function draw() {
    const { pools } = await get('/jobs/pools');
    body.replaceChildren(...pools.map(poolRow));
  }
  return { node: view, render: draw };
}

function poolRow(p) {
  const e = p.execution;
  const execution = e.mode === 'drain' ? `drain: ≤ ${e.maxJobs} jobs or ${e.maxMinutes} min per pod` : 'one job per pod';
  const limit = p.timeLimitSecs >= 3600 ? `${p.timeLimitSecs / 3600} h` : `${p.timeLimitSecs / 60} min`;
  return h('tr', { 'data-pool': p.name, title: p.description },
    h('td', {}, h('strong', {}, p.name)),
    h('td', {}, p.capacity),
    h('td', { class: 'mono' }, `${p.cpu.request} / ${p.cpu.limit}`),
    h('td', { class: 'mono' }, `${p.memory.request} / ${p.memory.limit}`),
    h('td', { title: `pod deadline ${p.activeDeadlineSecs} s` }, limit),
    h('td', { class: 'num' }, p.maxReplicas),
    h('td', {}, execution),
    h('td', { class: 'num', 'data-testid': 'pool-waiting' }, p.waiting),
    h('td', { class: 'num' }, p.high ? p.high.waiting : '?'),
    h('td', { class: 'num', 'data-testid': 'pool-running' }, p.running),
    h('td', {}, p.kinds.map((k) => h('a', { href: `#/jobs?kind=${encodeURIComponent(k)}` }, k)).flatMap((a, i) => (i ? [', ', a] : [a]))));
}
