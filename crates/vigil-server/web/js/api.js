// Talking to `vigil serve`: JSON requests with the session cookie and the CSRF token,
// errors as ApiError (the server's {"error": {"code", "message"}}), and the answer stream
// of /api/ask, which is server-sent events on the response of a POST.

let csrfToken = null;
let onUnauthenticated = () => {};

/** Remembers the CSRF token from /api/login or /api/me. */
export function setCsrf(token) {
  csrfToken = token || null;
}

/** Called when the server says the session is gone (401), so the app can show login. */
export function whenUnauthenticated(callback) {
  onUnauthenticated = callback;
}

/** An error the API reported, or a failure to reach it. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** True for the error a request raises when its page was left (not worth showing). */
export function isAbort(err) {
  return err && (err.name === 'AbortError' || err.code === 'aborted');
}

function headersFor(method, accept, hasBody) {
  const headers = { Accept: accept };
  if (hasBody) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  return headers;
}

// Turns a non-2xx response into an ApiError, reading the server's error object when
// there is one.
async function failure(response) {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // Not JSON (a proxy's page, an empty body): the status line says enough.
  }
  const err = new ApiError(response.status, code, message);
  if (response.status === 401 && code !== 'bad_login') onUnauthenticated(err);
  return err;
}

async function send(method, path, body, { signal, accept = 'application/json' } = {}) {
  const hasBody = body !== undefined;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headersFor(method, accept, hasBody),
      body: hasBody ? JSON.stringify(body) : undefined,
      credentials: 'same-origin',
      signal,
    });
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, 'unreachable', `Vigil could not be reached (${err.message}).`);
  }
  if (!response.ok) throw await failure(response);
  return response;
}

async function json(method, path, body, options) {
  const response = await send(method, path, body, options);
  if (response.status === 204) return {};
  return response.json();
}

export const api = {
  get: (path, options) => json('GET', path, undefined, options),
  post: (path, body = {}, options) => json('POST', path, body, options),
  patch: (path, body = {}, options) => json('PATCH', path, body, options),
  put: (path, body = {}, options) => json('PUT', path, body, options),
  del: (path, options) => json('DELETE', path, undefined, options),
};

/** A path segment, escaped (promptbook names have spaces, plugin names may too). */
export function seg(value) {
  return encodeURIComponent(String(value));
}

// Splits a buffer of server-sent events at blank lines; returns the complete events and
// the unfinished tail.
function splitEvents(buffer) {
  const events = [];
  // A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
  const held = buffer.endsWith('\r') ? '\r' : '';
  const normalised = (held ? buffer.slice(0, -1) : buffer).replace(/\r\n?/g, '\n');
  const blocks = normalised.split('\n\n');
  const rest = blocks.pop() + held;
  for (const block of blocks) {
    let name = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length) events.push({ name, data: data.join('\n') });
  }
  return { events, rest };
}

/**
 * Asks a question and follows the answer as it streams. `handlers` has a function per
 * event name (session, step, call, answer, done, error); each gets the parsed data.
 * Resolves with the `done` object. A server that answers with plain JSON instead of a
 * stream is handled too: its reply is passed to `done`.
 */
export async function askStream(body, handlers, { signal } = {}) {
  const response = await send('POST', '/api/ask', body, {
    signal,
    accept: 'text/event-stream',
  });
  const type = response.headers.get('Content-Type') || '';
  if (!type.includes('text/event-stream')) {
    const reply = await response.json();
    if (reply.session && handlers.session) handlers.session({ session: reply.session });
    if (handlers.done) handlers.done(reply);
    return reply;
  }

  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let done = null;
  let failed = null;
  const dispatch = (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = { text: event.data };
    }
    if (event.name === 'done') done = data;
    if (event.name === 'error') {
      failed = new ApiError(200, data.code || 'stream_error', data.message || 'The answer failed.');
    }
    const handler = handlers[event.name];
    if (handler) handler(data);
  };

  for (;;) {
    const { value, done: finished } = await reader.read();
    if (value) buffer += decoder.decode(value, { stream: true });
    if (finished) buffer += decoder.decode() + '\n\n';
    const { events, rest } = splitEvents(buffer);
    buffer = rest;
    events.forEach(dispatch);
    if (finished) break;
  }
  if (failed) throw failed;
  if (!done) throw new ApiError(200, 'stream_cut', 'The answer stream ended before the answer was complete.');
  return done;
}
