// DOM helpers, formatting and the banner: what every view uses. Values from the API always
// go in as text nodes, never as HTML.

export const $ = (sel, root = document) => root.querySelector(sel);

/** Builds an element: h('a', {href: '#'}, 'text', child). Strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
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

/** Children for replaceChildren: arrays flattened, absent parts left out. */
export const nodes = (...parts) => parts.flat(Infinity).filter((p) => p !== null && p !== undefined && p !== false);

/** Shows an error (none: hides the banner). `source` says who may clear it: an action's error
 * stays until the next action or view, a refresh's goes with the next refresh that works. */
export function showError(err, source = 'action') {
  const banner = $('[data-testid=error]');
  if (!err) { banner.classList.add('hidden'); return; }
  banner.className = 'banner';
  banner.dataset.source = source;
  banner.textContent = err.status ? `${err.message} (HTTP ${err.status}${err.code ? `, ${err.code}` : ''})` : String(err.message || err);
}

export function note(text) {
  const banner = $('[data-testid=error]');
  banner.className = 'banner note';
  banner.dataset.source = 'action';
  banner.textContent = text;
  setTimeout(() => { if (banner.textContent === text) banner.classList.add('hidden'); }, 8000);
}


export function ago(iso) {
  if (!iso) return '–';
  return duration((Date.now() - Date.parse(iso)) / 1000) + ' ago';
}

export function duration(secs) {
  if (secs === null || secs === undefined || Number.isNaN(secs)) return '–';
  if (secs < 1) return `${Math.round(Math.max(0, secs) * 1000)}ms`;
  secs = Math.round(secs);
  if (secs < 60) return `${secs}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m ${secs % 60}s`;
  if (secs < 86400) return `${Math.floor(secs / 3600)}h ${Math.floor((secs % 3600) / 60)}m`;
  return `${Math.floor(secs / 86400)}d ${Math.floor((secs % 86400) / 3600)}h`;
}


export const time = (iso) => (iso ? new Date(iso).toLocaleString() : '–');
export const badge = (status) => h('span', { class: `badge ${status}`, 'data-status': status }, status);
export const json = (value) => h('pre', {}, value === undefined || value === null ? 'null' : JSON.stringify(value, null, 2));
export const jobLink = (id) => h('a', { href: `#/jobs/${encodeURIComponent(id)}` }, id);
