// mailjar web UI: the one way its pages talk to the API, build elements and show sizes.
//
// Contract: request()/api() send `body` (when given) as JSON with Content-Type: application/json (the API
// refuses other bodies, 415); an answer that is not ok rejects with an Error whose message is the API's
// {"Error"} and the status ("message not found (HTTP 404)"), or the status alone, and whose .status is the
// HTTP status. node() never parses
// markup: text goes in with textContent.

// One API request; resolves with the Response when it is ok.
export async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.ok) return response;
  let message = `HTTP ${response.status}`;
  try {
    const answer = await response.json();
    if (answer && answer.Error) message = `${answer.Error} (HTTP ${response.status})`;
  } catch {
    // not JSON: the status says enough
  }
  const error = new Error(message);
  error.status = response.status;
  throw error;
}

// The same, resolving with the parsed JSON answer (or its text when it is not JSON, e.g. the "ok" of a
// change).
export async function api(method, path, body) {
  const text = await (await request(method, path, body)).text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// An element: props "text" (textContent), "class" (className), DOM properties by name, anything else as an
// attribute; then the children.
export function node(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined) continue;
    if (key === "text") e.textContent = value;
    else if (key === "class") e.className = value;
    else if (key in e) e[key] = value;
    else e.setAttribute(key, value);
  }
  e.append(...children);
  return e;
}

// "820 B", "4.1 kB", "1.2 MB": powers of 1,024, as the search language's larger:/smaller: count them. The
// one size format of the UI (the list and the message pane show the same figure).
export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
