// The header: the tiles (GET /jobs/overview) and the chart of outcomes per minute
// (GET /jobs/throughput), an SVG drawn here.

import { $, duration } from './dom.js';

export const CHART_MINUTES = 60;

function setTile(name, value, alert = false) {
  const tile = $(`[data-tile=${name}]`);
  $('.n', tile).textContent = value;
  tile.classList.toggle('alert', alert);
}

const count = (c) => (c.capped ? `${c.count}+` : String(c.count));

export function renderOverview(o) {
  setTile('waiting', count(o.open.waiting));
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

export function mergeMinutes(list) {
  for (const m of list) minutes.set(m.start, m);
  const keep = [...minutes.keys()].sort().slice(-CHART_MINUTES);
  for (const k of [...minutes.keys()]) if (!keep.includes(k)) minutes.delete(k);
}

export function renderChart() {
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


/** The chart's kind picker: every kind, and `other`. */
export function fillKindPicker(kinds) {
  const picker = $('[data-testid=chart-kind]');
  if (picker.options.length > 1) return;
  for (const k of kinds) picker.append(new Option(k.name, k.name));
  picker.append(new Option('other', 'other'));
}
