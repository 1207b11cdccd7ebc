// The node's JSON admin API (/api), same origin: the browser sends the HTTP Basic
// credentials it was given for the page. Every failure becomes an ApiError whose message
// says in words what went wrong (the API's own {"error": …} when it gave one).

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { method = 'GET', body, type } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      body,
      headers: type ? { 'Content-Type': type } : {},
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(`The node did not answer ${method} ${path} (${e.message}). Is it running?`, 0);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const reason = data && data.error ? data.error : text.trim() || response.statusText;
    const hint = response.status === 401 ? ' (sign in: the node asks for a user name and password)' : '';
    throw new ApiError(`${method} ${path}: ${response.status} — ${reason}${hint}`, response.status);
  }
  if (data === null) throw new ApiError(`${method} ${path}: the answer is not JSON`, response.status);
  return data;
}

// A query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
