// The API client: `api(method, path, body)` and its error type; the token comes from
// token.js.
//
// Every call reports whether the server answered through the 'reachable' event
// (connection.js listens) and a 401 through 'unauthorized', so this module imports
// nothing that imports it.
import { detailText } from './format.js';
import { emit } from './store.js';
import { TOKEN } from './token.js';

/** Longest an API call may take before the page gives up on it (a refresh runs tart). */
const API_TIMEOUT_MS = 10000;

/** The API token for this tab (see token.js). */
export { TOKEN };

export class ApiError extends Error {
  constructor(message, status, body, network) {
    super(message);
    /** HTTP status, or 0 when there was no answer. */
    this.status = status;
    /** The parsed error body, if any. */
    this.body = body;
    /** True when the server could not be reached at all. */
    this.network = !!network;
  }
}

/** Calls the API; resolves to the parsed JSON body or throws an ApiError. */
export async function api(method, path, body, timeoutMs) {
  const headers = { 'X-Local-Token': TOKEN, Accept: 'application/json' };
  const ctrl = new AbortController();
  const limit = timeoutMs || API_TIMEOUT_MS;
  const timer = setTimeout(() => ctrl.abort(), limit);
  const init = { method, headers, cache: 'no-store', credentials: 'omit', signal: ctrl.signal };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let res;
  let text = '';
  try {
    res = await fetch(path, init);
    text = await res.text();
  } catch (e) {
    if (ctrl.signal.aborted) {
      // Slow is not gone: the heartbeat decides about "offline".
      throw new ApiError('The server did not answer within ' + Math.round(limit / 1000) + ' s.', 0, null, false);
    }
    emit('reachable', false);
    throw new ApiError('The server could not be reached.', 0, null, true);
  } finally {
    clearTimeout(timer);
  }
  emit('reachable', true);
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }
  if (res.status === 401) emit('unauthorized');
  if (!res.ok) throw new ApiError(detailText(data, res.status), res.status, data);
  return data;
}

/** `/api/vms/{name}{suffix}` with the name encoded. */
export const vmPath = (name, suffix) => '/api/vms/' + encodeURIComponent(name) + (suffix || '');

/** The URL of a task's WebSocket (`logs=new`: each message carries only new log lines). */
export function taskSocketUrl(id) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return proto + '//' + location.host + '/ws/tasks/' + encodeURIComponent(id) + '?token=' + encodeURIComponent(TOKEN) + '&logs=new';
}
