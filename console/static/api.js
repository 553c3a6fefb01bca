// The API client: every call carries the signed-in key as a bearer token.
// The key lives in sessionStorage only (gone when the tab closes); it is
// never put in a URL, in localStorage, or in a log.

const KEY = 'tenantService.apiKey';
const ROLE = 'tenantService.role';

export function session() {
  const key = sessionStorage.getItem(KEY);
  const role = sessionStorage.getItem(ROLE);
  return key && role ? { key, role } : null;
}

export function signIn(key, role) {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(ROLE, role);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(ROLE);
}

/** ApiError is a refused or failed call, with the problem the API answered. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `the service answered ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

/**
 * call sends a request and returns { data, headers, status }; a non-2xx
 * answer throws an ApiError. opts: body (sent as JSON), headers, key (to
 * use instead of the session's), signal.
 */
export async function call(method, path, opts = {}) {
  const key = opts.key ?? session()?.key;
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  if (key) headers.Authorization = `Bearer ${key}`;
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, signal: opts.signal, cache: 'no-store' });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, { title: 'Network error', detail: 'The service could not be reached.' });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text }; }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return { data, headers: res.headers, status: res.status };
}

export const get = (path, opts) => call('GET', path, opts);

/** describe turns an error into one sentence for the user. */
export function describe(err) {
  if (err instanceof ApiError) {
    const p = err.problem;
    const fields = (p.errors || []).map((e) => `${e.field}: ${e.message}`).join('; ');
    return [p.title || `Error ${err.status}`, p.detail, fields].filter(Boolean).join(' — ');
  }
  return err?.message || String(err);
}
