// mailjar web UI: the inbox picker and the live message list of the current inbox.
//
// Contract: uses only the public REST API and the WebSocket at {base}/api/events, where {base} is ""
// for the default inbox ("/") or "/inboxes/{slug}" (the page at "/inboxes/{slug}/"). Every value that
// comes from mail (subjects, names, addresses) is put in the page with textContent, never as HTML.
// Plain ES module: no bundler, nothing fetched from anywhere but this server.

const kPageSize = 50;          // messages fetched on load
const kMaxRows = 500;          // rows kept while mail arrives live (the oldest are dropped)
const kReconnectMinMs = 1000;  // WebSocket reconnect back-off, doubled per failed attempt
const kReconnectMaxMs = 30000;

const state = {
  base: inboxBase(location.pathname),
  inboxName: "",
  total: 0,
  unread: 0,
  rows: new Map(),  // message ID -> <tr>
  pending: null,    // events held while the first page loads (an array), else null
  loaded: false,    // a first page has been shown
  current: null,    // {inbox, option}: the current inbox's entry in the picker
};

const el = {
  picker: document.getElementById("inbox-picker"),
  counts: document.getElementById("counts"),
  live: document.getElementById("live"),
  status: document.getElementById("status"),
  rows: document.getElementById("message-rows"),
  empty: document.getElementById("empty"),
};

// "/inboxes/staging/" -> "/inboxes/staging"; anything else -> "" (the default inbox).
function inboxBase(pathname) {
  const m = /^\/inboxes\/([^/]+)\/?$/.exec(pathname);
  return m ? `/inboxes/${m[1]}` : "";
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.Error) message = body.Error;
    } catch {
      // not JSON: keep the status line
    }
    throw new Error(message);
  }
  return response.json();
}

function showStatus(text) {
  el.status.textContent = text;
  el.status.hidden = text === "";
}

// ---- inbox picker --------------------------------------------------------------------------------------

function inboxLabel(inbox, total, unread) {
  return `${inbox.Project} / ${inbox.Name} (${total}${unread ? `, ${unread} unread` : ""})`;
}

async function loadInboxes(currentSlug) {
  const inboxes = await getJson("/api/v1/inboxes");
  el.picker.replaceChildren();
  for (const inbox of inboxes) {
    const option = document.createElement("option");
    option.value = inbox.Slug;
    option.textContent = inboxLabel(inbox, inbox.Messages ?? 0, inbox.Unread ?? 0);
    option.selected = inbox.Slug === currentSlug;
    if (option.selected) state.current = { inbox, option };
    el.picker.append(option);
  }
  render();
}

el.picker.addEventListener("change", () => {
  const slug = el.picker.value;
  if (slug) location.assign(`/inboxes/${encodeURIComponent(slug)}/`);
});

// ---- message list --------------------------------------------------------------------------------------

function senderText(message) {
  const from = message.From || {};
  return from.Name || from.Address || "(no sender)";
}

function timeText(created) {
  const date = new Date(created);
  if (Number.isNaN(date.getTime())) return "";
  const now = new Date();
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay
    ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

function cell(className, text) {
  const td = document.createElement("td");
  td.className = className;
  td.textContent = text;
  return td;
}

function messageRow(message) {
  const tr = document.createElement("tr");
  tr.dataset.id = message.ID;
  tr.classList.toggle("unread", !message.Read);

  const mark = cell("col-unread", "");
  const dot = document.createElement("span");
  dot.className = "dot";
  dot.title = message.Read ? "" : "Unread";
  mark.append(dot);

  const from = cell("col-from", senderText(message));
  if (message.From && message.From.Address) from.title = message.From.Address;

  const subject = cell("col-subject", message.Subject || "(no subject)");
  if (!message.Subject) subject.classList.add("muted");

  const time = document.createElement("td");
  time.className = "col-time";
  const stamp = document.createElement("time");
  stamp.dateTime = message.Created;
  stamp.title = new Date(message.Created).toLocaleString();
  stamp.textContent = timeText(message.Created);
  time.append(stamp);

  tr.append(mark, from, subject, time);
  tr.tabIndex = 0;
  tr.addEventListener("click", () => openMessage(message.ID));
  tr.addEventListener("keydown", (e) => {
    if (e.key === "Enter") openMessage(message.ID);
  });
  return tr;
}

// ---- the message pane ----------------------------------------------------------------------------------
// The open message is part of the URL ("#/m/{ID}"), so it survives a reload and can be linked to. The
// pane itself is message.js's: showMessage(pane, base, id, {onClose}) renders it, closeMessage(pane)
// empties it.

const kMessageRoute = /^#\/m\/([0-9A-Za-z]+)$/;

function openMessage(id) {
  location.hash = `#/m/${id}`;
}

async function route() {
  const pane = document.getElementById("message-pane");
  const m = kMessageRoute.exec(location.hash);
  for (const tr of el.rows.children) tr.classList.toggle("selected", m !== null && tr.dataset.id === m[1]);
  document.body.classList.toggle("has-message", m !== null);
  const view = await import("/ui/message.js");
  if (!m) {
    pane.hidden = true;
    view.closeMessage(pane);
    return;
  }
  pane.hidden = false;
  const row = state.rows.get(m[1]);
  if (row) row.classList.remove("unread");  // opening marks it read (the server publishes the update)
  view.showMessage(pane, state.base, m[1], {
    onClose: () => {
      history.pushState(null, "", location.pathname + location.search);
      route();
    },
  });
}

window.addEventListener("hashchange", () => route());

function addRow(message, atTop) {
  if (!message || !message.ID || state.rows.has(message.ID)) return false;
  const tr = messageRow(message);
  state.rows.set(message.ID, tr);
  if (atTop) el.rows.prepend(tr);
  else el.rows.append(tr);
  while (state.rows.size > kMaxRows) {
    const last = el.rows.lastElementChild;
    state.rows.delete(last.dataset.id);
    last.remove();
  }
  return true;
}

function removeRow(id) {
  const tr = state.rows.get(id);
  if (!tr) return;
  tr.remove();
  state.rows.delete(id);
}

function setReadMark(id, read) {
  const tr = state.rows.get(id);
  if (!tr) return;
  tr.classList.toggle("unread", !read);
  tr.querySelector(".dot").title = read ? "" : "Unread";
}

function render() {
  el.empty.hidden = state.rows.size > 0;
  const noun = state.total === 1 ? "message" : "messages";
  el.counts.textContent = `${state.total} ${noun}, ${state.unread} unread`;
  if (state.current) state.current.option.textContent = inboxLabel(state.current.inbox, state.total, state.unread);
  const name = state.inboxName || "mailjar";
  document.title = `${state.unread > 0 ? `(${state.unread}) ` : ""}${name} · mailjar`;
}

// Loads the first page. Events that arrive while it is in flight are held and applied after it, so a
// message stored between the server's answer and its arrival here is neither lost nor doubled.
async function loadMessages() {
  state.pending = [];
  try {
    const page = await getJson(`${state.base}/api/v1/messages?limit=${kPageSize}`);
    state.rows.clear();
    el.rows.replaceChildren();
    for (const message of page.messages || []) addRow(message, false);
    state.total = page.messages_count ?? page.total ?? 0;
    state.unread = page.unread ?? 0;
    state.loaded = true;
    render();
  } finally {
    const held = state.pending;
    state.pending = null;
    for (const event of held) onEvent(event);
  }
}

// ---- live events ---------------------------------------------------------------------------------------

function setLive(stateName) {
  el.live.dataset.state = stateName;
  el.live.textContent = stateName;
}

function onEvent(event) {
  if (state.pending) {
    if (state.pending.length < kMaxRows) state.pending.push(event);
    return;
  }
  switch (event.Type) {
    case "new":
      if (addRow(event.Data, true)) {
        state.total += 1;
        if (!event.Data.Read) state.unread += 1;
      }
      break;
    case "update":
      if (event.Data && typeof event.Data.Read === "boolean") setReadMark(event.Data.ID, event.Data.Read);
      break;
    case "delete":
      if (event.Data) removeRow(event.Data.ID);
      break;
    case "prune":
      for (const id of (event.Data && event.Data.IDs) || []) removeRow(id);
      break;
    case "truncate":
      state.rows.clear();
      el.rows.replaceChildren();
      break;
    case "stats":
      // The server's totals after any change: authoritative over the local counting above.
      if (event.Data) {
        state.total = event.Data.Total ?? state.total;
        state.unread = event.Data.Unread ?? state.unread;
      }
      break;
    default:
      return;
  }
  render();
}

// Each time the stream opens, the first page is (re)loaded: mail that arrived before the stream was
// open (or while it was down) is in the page, mail after it comes as events. `failures`: connections in
// a row that never opened (for the back-off).
function connectEvents(failures) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${state.base}/api/events`);
  let opened = false;
  socket.addEventListener("open", () => {
    opened = true;
    setLive("live");
    loadMessages().then(
      () => showStatus(""),
      (err) => showStatus(`Could not load the messages: ${err.message}`));
  });
  socket.addEventListener("message", (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;  // a frame that is not JSON: ignored
    }
    onEvent(event);
  });
  socket.addEventListener("close", () => {
    setLive("offline");
    // No live stream yet (refused, or the server is away): still show what is stored.
    if (!opened && !state.loaded) loadMessages().catch((err) => showStatus(err.message));
    const misses = opened ? 0 : failures + 1;
    const delay = Math.min(kReconnectMinMs * 2 ** misses, kReconnectMaxMs);
    setTimeout(() => connectEvents(misses), delay);
  });
}

// ---- start ---------------------------------------------------------------------------------------------

async function start() {
  connectEvents(0);
  route();
  try {
    const info = await getJson(`${state.base}/api/v1/info`);
    state.inboxName = (info.Inbox && info.Inbox.Name) || "";
    render();
    await loadInboxes((info.Inbox && info.Inbox.Slug) || "");
  } catch (err) {
    showStatus(`Could not load the inbox: ${err.message}`);
  }
}

start();
