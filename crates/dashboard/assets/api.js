// The job API from the page: the token (asked for once, kept for the tab), JSON errors as
// ApiError, and the kinds (read once).

import { $ } from './dom.js';

const TOKEN_KEY = 'keda-sqs-jobs.token';

/** Tells the page that something changed (an action, a token): it refreshes. */
export const changed = () => document.dispatchEvent(new Event('dashboard:changed'));

export class ApiError extends Error {
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

export async function api(method, path, body, headers = {}) {
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
  return { status: res.status, body: json, text };
}
export const get = (path) => api('GET', path).then((r) => r.body);

function askForToken() {
  const form = $('[data-testid=token-form]');
  form.classList.remove('hidden');
  form.onsubmit = (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, form.token.value);
    form.classList.add('hidden');
    changed();
  };
}

let kinds = null;
export async function loadKinds() {
  if (!kinds) kinds = (await get('/jobs/kinds')).kinds;
  return kinds;
}
