// mailjar web UI: the inbox picker and the live message list of the current inbox.
//
// Contract: uses only the public REST API and the WebSocket at {base}/api/events, where {base} is ""
// for the default inbox ("/") or "/inboxes/{slug}" (the page at "/inboxes/{slug}/"). Every value that
// comes from mail (subjects, names, addresses) is put in the page with textContent, never as HTML.
// Plain ES module: no bundler, nothing fetched from anywhere but this server.
//
// Paging: the list loads kPageSize rows and, on scrolling to its end, the next older page with
// ?before={last ID} (a keyed seek, as fast at message 100,000 as at message 50); a search pages with
// start= (search results have no key order to seek by). At most kMaxRows rows are kept in the page.

import { api, formatSize } from "/ui/api.js";

// settings.js and message.js are imported when first needed, so that the first list paint waits for
// app.js (and the small api.js) alone.
const settingsModule = () => import("/ui/settings.js");
const kPreloadViewMs = 200;  // message.js is fetched this long after the first list page is shown

const kPageSize = 50;          // messages fetched per page
const kMaxRows = 5000;         // rows kept in the page (live arrivals drop the oldest; paging stops here)
const kMaxQuery = 500;         // longest search query sent
const kSearchDelayMs = 250;    // typing pause before a search runs
const kFaviconSize = 64;       // canvas size of the drawn favicon
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
  query: "",        // the search shown ("" = the plain list)
  more: false,      // an older page may exist
  paging: false,    // a page request is in flight
  generation: 0,    // bumped per first-page load, so a stale page answer is dropped
  selected: new Set(),  // checked message IDs
  cursor: null,     // the keyboard's current message ID
  lastChecked: null,    // the last checkbox clicked (for shift-click ranges)
  favicon: "",      // the unread count the favicon shows
};

const el = {
  picker: document.getElementById("inbox-picker"),
  counts: document.getElementById("counts"),
  live: document.getElementById("live"),
  status: document.getElementById("status"),
  rows: document.getElementById("message-rows"),
  empty: document.getElementById("empty"),
  search: document.getElementById("search"),
  searchForm: document.getElementById("search-form"),
  helpButton: document.getElementById("search-help-button"),
  help: document.getElementById("search-help"),
  helpList: document.getElementById("search-help-list"),
  more: document.getElementById("more"),
  loadMore: document.getElementById("load-more"),
  selectAll: document.getElementById("select-all"),
  selectionCount: document.getElementById("selection-count"),
  bulk: ["bulk-read", "bulk-unread", "bulk-tag", "bulk-delete"].map((id) => document.getElementById(id)),
  favicon: document.getElementById("favicon"),
};

// "/inboxes/staging/" -> "/inboxes/staging"; anything else -> "" (the default inbox).
function inboxBase(pathname) {
  const m = /^\/inboxes\/([^/]+)\/?$/.exec(pathname);
  return m ? `/inboxes/${m[1]}` : "";
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
  const inboxes = await api("GET", "/api/v1/inboxes");
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

// A paperclip icon (SVG built with DOM calls: no markup strings, no font needed) labelled with the count.
function attachmentMark(count) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", "attach");
  svg.setAttribute("role", "img");
  const title = document.createElementNS(ns, "title");
  title.textContent = `${count} attachment${count === 1 ? "" : "s"}`;
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M11 4.5v6.5a3 3 0 0 1-6 0V4a2 2 0 0 1 4 0v6.5a1 1 0 0 1-2 0V5");
  svg.append(title, path);
  return svg;
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

  for (const tag of (message.Tags || []).slice(0, 5)) {
    const chip = document.createElement("span");
    chip.className = "tag";
    chip.textContent = tag;
    subject.prepend(chip);
  }
  // The preview column: an attachment mark and the snippet (kept out of the subject cell, whose text is
  // exactly the subject).
  const preview = cell("col-preview", "");
  if (message.Attachments > 0) {
    preview.append(attachmentMark(message.Attachments));
  }
  if (message.Snippet) {
    const snippet = document.createElement("span");
    snippet.className = "preview-text";
    snippet.textContent = message.Snippet;
    preview.append(snippet);
  }
  const size = document.createElement("span");
  size.className = "size";
  size.textContent = formatSize(message.Size);
  time.append(size);

  const check = document.createElement("td");
  check.className = "col-check";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = state.selected.has(message.ID);
  box.setAttribute("aria-label", `Select: ${message.Subject || "(no subject)"}`);
  box.addEventListener("click", (e) => {
    e.stopPropagation();
    toggleSelected(message.ID, box.checked, e.shiftKey);
  });
  check.append(box);
  check.addEventListener("click", (e) => {
    if (e.target === check) box.click();
  });

  tr.append(check, mark, from, subject, preview, time);
  tr.tabIndex = 0;
  tr.addEventListener("click", (e) => {
    if (e.target.closest(".col-check")) return;
    setCursor(message.ID);
    openMessage(message.ID);
  });
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

let messageViewLoaded = false;

async function route() {
  const pane = document.getElementById("message-pane");
  const m = kMessageRoute.exec(location.hash);
  markRouteRow();
  document.body.classList.toggle("has-message", m !== null);
  if (!m && !messageViewLoaded) {  // nothing open yet: no need to load the message view
    pane.hidden = true;
    return;
  }
  const view = await import("/ui/message.js");
  messageViewLoaded = true;
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

// Marks the row of the open message.
function markRouteRow() {
  const m = kMessageRoute.exec(location.hash);
  for (const tr of el.rows.children) tr.classList.toggle("selected", m !== null && tr.dataset.id === m[1]);
}

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
  if (state.cursor === id) {
    const next = tr.nextElementSibling || tr.previousElementSibling;
    state.cursor = next ? next.dataset.id : null;
    if (next) next.classList.add("cursor");
  }
  tr.remove();
  state.rows.delete(id);
  state.selected.delete(id);
}

function clearRows() {
  state.rows.clear();
  state.selected.clear();
  state.cursor = null;
  el.rows.replaceChildren();
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
  scheduleFavicon();
  renderSelection();
  el.loadMore.hidden = !state.more;
}

// The favicon is redrawn a moment after the counts change, not inside render(): the first canvas text in a
// page costs a font set-up that would otherwise delay the first paint of the list (measured: ~190 ms in
// headless Chromium on the CI machine). Bursts of changes draw once.
const kFaviconDelayMs = 300;
let faviconTimer = 0;
function scheduleFavicon() {
  if (faviconTimer) return;
  faviconTimer = setTimeout(() => {
    faviconTimer = 0;
    drawFavicon(state.unread);
  }, kFaviconDelayMs);
}

// The tab icon: the plain icon when nothing is unread, else an envelope with the count drawn on a
// canvas (a data: URL; the page's CSP allows img-src data:).
function drawFavicon(unread) {
  const label = unread > 999 ? "999+" : unread > 0 ? String(unread) : "";
  if (label === state.favicon) return;
  state.favicon = label;
  if (!label) {
    el.favicon.type = "image/svg+xml";
    el.favicon.href = "/ui/favicon.svg";
    return;
  }
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = kFaviconSize;
  const g = canvas.getContext("2d");
  if (!g) return;
  g.fillStyle = "#2563eb";
  g.fillRect(4, 14, 56, 40);
  g.strokeStyle = "#ffffff";
  g.lineWidth = 4;
  g.beginPath();
  g.moveTo(6, 16);
  g.lineTo(32, 36);
  g.lineTo(58, 16);
  g.stroke();
  g.fillStyle = "#dc2626";
  g.beginPath();
  g.roundRect(kFaviconSize - 44, 0, 44, 34, 14);
  g.fill();
  g.fillStyle = "#ffffff";
  g.font = `bold ${label.length > 2 ? 18 : 26}px sans-serif`;
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillText(label, kFaviconSize - 22, 18);
  el.favicon.type = "image/png";
  el.favicon.href = canvas.toDataURL("image/png");
}

// Loads the first page. Events that arrive while it is in flight are held and applied after it, so a
// message stored between the server's answer and its arrival here is neither lost nor doubled.
function pageUrl(older) {
  if (state.query) {
    const start = older ? state.rows.size : 0;
    return `${state.base}/api/v1/search?query=${encodeURIComponent(state.query)}&start=${start}&limit=${kPageSize}`;
  }
  const last = el.rows.lastElementChild;
  const before = older && last ? `&before=${encodeURIComponent(last.dataset.id)}` : "";
  return `${state.base}/api/v1/messages?limit=${kPageSize}${before}`;
}

async function loadMessages() {
  const generation = ++state.generation;
  const held = [];  // events that arrive while this page loads (onEvent holds them in state.pending)
  state.pending = held;
  try {
    const page = await api("GET", pageUrl(false));
    if (generation !== state.generation) return;
    const keepCursor = state.cursor;
    clearRows();
    for (const message of page.messages || []) addRow(message, false);
    if (keepCursor && state.rows.has(keepCursor)) setCursor(keepCursor);
    const count = (page.messages || []).length;
    state.more = count === kPageSize && (!state.query || count < (page.messages_count ?? 0));
    state.total = page.total ?? page.messages_count ?? 0;
    state.unread = page.unread ?? 0;
    if (!state.loaded) setTimeout(() => import("/ui/message.js"), kPreloadViewMs);  // warm, after first paint
    state.loaded = true;
    el.empty.textContent = state.query ? "No message matches this search."
                                       : "No messages yet. Send mail to this inbox's SMTP port and it appears here.";
    render();
    markRouteRow();
  } finally {
    // The current load applies what it held once its page is shown. A load that a newer one replaced
    // leaves them: the newer page was fetched after they happened.
    if (state.pending === held) {
      state.pending = null;
      for (const event of held) onEvent(event);
    }
  }
}

// Appends the next older page (or the next page of the search), once at a time.
async function loadOlder() {
  if (!state.more || state.paging || state.pending || state.rows.size === 0) return;
  if (state.rows.size >= kMaxRows) {
    state.more = false;
    showStatus(`Showing the newest ${kMaxRows} messages: search to find older ones.`);
    render();
    return;
  }
  state.paging = true;
  const generation = state.generation;
  try {
    const page = await api("GET", pageUrl(true));
    if (generation !== state.generation) return;
    const messages = page.messages || [];
    for (const message of messages) addRow(message, false);
    state.more = messages.length === kPageSize;
    render();
  } catch (err) {
    showStatus(`Could not load older messages: ${err.message}`);
  } finally {
    state.paging = false;
  }
  // A short page on a tall screen leaves the end in view: keep filling.
  if (state.more && endInView()) loadOlder();
}

function endInView() {
  const box = el.more.getBoundingClientRect();
  return box.top < window.innerHeight + 200;
}

new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) loadOlder();
}, { rootMargin: "0px 0px 400px 0px" }).observe(el.more);
el.loadMore.addEventListener("click", () => loadOlder());

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
      if (state.query) {
        scheduleSearch();  // only a new match belongs in a search: ask the server again
        break;
      }
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
      clearRows();
      state.more = false;
      break;
    case "stats":
      // The server's totals after any change: authoritative over the local counting above.
      if (event.Data) {
        state.total = event.Data.Total ?? state.total;
        state.unread = event.Data.Unread ?? state.unread;
      }
      break;
    case "analysis":
      // A message's reports were stored: the message pane refreshes its Analysis tab if it shows that one.
      if (event.Data && event.Data.ID) import("/ui/message.js").then((view) => view.analysisArrived(event.Data.ID));
      return;
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
    // No live stream yet (refused, or the server is away): still show what is stored (start() loaded it
    // unless that failed).
    if (!opened && !state.loaded) loadMessages().catch((err) => showStatus(err.message));
    const misses = opened ? 0 : failures + 1;
    const delay = Math.min(kReconnectMinMs * 2 ** misses, kReconnectMaxMs);
    setTimeout(() => connectEvents(misses), delay);
  });
}

// ---- selection and bulk actions ------------------------------------------------------------------------

function rowIds() {
  return [...el.rows.children].map((tr) => tr.dataset.id);
}

// Checks or unchecks one message; with `range`, every row between it and the last one clicked too.
function toggleSelected(id, on, range) {
  const ids = rowIds();
  let targets = [id];
  if (range && state.lastChecked && state.rows.has(state.lastChecked)) {
    const [a, b] = [ids.indexOf(state.lastChecked), ids.indexOf(id)].sort((x, y) => x - y);
    targets = ids.slice(a, b + 1);
  }
  for (const t of targets) {
    if (on) state.selected.add(t);
    else state.selected.delete(t);
    const box = state.rows.get(t)?.querySelector(".col-check input");
    if (box) box.checked = on;
  }
  state.lastChecked = id;
  renderSelection();
}

function renderSelection() {
  const n = state.selected.size;
  el.selectionCount.textContent = `${n} selected`;
  for (const button of el.bulk) button.disabled = n === 0;
  el.selectAll.checked = n > 0 && n === state.rows.size;
  el.selectAll.indeterminate = n > 0 && n < state.rows.size;
}

el.selectAll.addEventListener("change", () => {
  for (const id of rowIds()) {
    if (el.selectAll.checked) state.selected.add(id);
    else state.selected.delete(id);
    state.rows.get(id).querySelector(".col-check input").checked = el.selectAll.checked;
  }
  renderSelection();
});

// The checked messages, else the keyboard's current one (for the Delete key).
function targetIds(allowCursor) {
  if (state.selected.size > 0) return [...state.selected];
  return allowCursor && state.cursor ? [state.cursor] : [];
}

async function bulk(action, ids) {
  if (ids.length === 0) return;
  try {
    await action(ids);
    showStatus("");
  } catch (err) {
    showStatus(`That did not work: ${err.message}`);
  }
  renderSelection();
}

async function setRead(ids, read) {
  await api("PUT", `${state.base}/api/v1/messages`, { IDs: ids, Read: read });
  for (const id of ids) setReadMark(id, read);
}

async function deleteIds(ids) {
  await api("DELETE", `${state.base}/api/v1/messages`, { IDs: ids });
  for (const id of ids) removeRow(id);
  if (state.cursor) state.rows.get(state.cursor)?.focus();
  render();
}

document.getElementById("bulk-read").addEventListener("click", () => bulk((ids) => setRead(ids, true), targetIds(false)));
document.getElementById("bulk-unread").addEventListener("click", () => bulk((ids) => setRead(ids, false), targetIds(false)));
document.getElementById("bulk-delete").addEventListener("click", () => bulk(deleteIds, targetIds(false)));

const tagDialog = document.getElementById("tag-dialog");
document.getElementById("bulk-tag").addEventListener("click", () => {
  document.getElementById("tag-input").value = "";
  tagDialog.returnValue = "";
  tagDialog.showModal();
});
tagDialog.addEventListener("close", () => {
  if (tagDialog.returnValue !== "ok") return;
  const tags = document.getElementById("tag-input").value.split(",").map((t) => t.trim()).filter(Boolean);
  bulk(async (ids) => {
    await api("PUT", `${state.base}/api/v1/tags`, { IDs: ids, Tags: tags });
    await loadMessages();  // the rows show their new tags
  }, targetIds(false));
});

document.getElementById("delete-all").addEventListener("click", async () => {
  const what = state.total === 1 ? "the 1 message" : `all ${state.total} messages`;
  const { confirmAction } = await settingsModule();
  if (!(await confirmAction(`Delete ${what} in this inbox? This cannot be undone.`, "Delete all"))) return;
  try {
    await api("DELETE", `${state.base}/api/v1/messages`, {});
    clearRows();
    state.more = false;
    render();
  } catch (err) {
    showStatus(`Could not delete: ${err.message}`);
  }
});

// ---- search --------------------------------------------------------------------------------------------

const kSearchSyntax = [
  ["word", "every plain word must match, as a word prefix (invoice finds invoices)"],
  ['"a phrase"', "the exact phrase"],
  ["from: to: cc: bcc:", "an address or name, e.g. from:alice@example.com"],
  ["addressed:", "in To, Cc or Bcc"],
  ["subject: reply-to: message-id:", "that header"],
  ["tag:", "messages with that tag"],
  ["is:read is:unread is:tagged", "read state, any tag"],
  ["has:attachment has:inline", "with attachments, with inline parts"],
  ["larger:1M smaller:10k", "by size"],
  ["before:2026-11-23 after:2026-11-01", "by the date received"],
];

for (const [term, meaning] of kSearchSyntax) {
  const dt = document.createElement("dt");
  const code = document.createElement("code");
  code.textContent = term;
  dt.append(code);
  const dd = document.createElement("dd");
  dd.textContent = meaning;
  el.helpList.append(dt, dd);
}

function setHelp(open) {
  el.help.hidden = !open;
  el.helpButton.setAttribute("aria-expanded", String(open));
}

el.helpButton.addEventListener("click", () => setHelp(el.help.hidden));
el.searchForm.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !el.help.hidden) {
    e.stopPropagation();
    setHelp(false);
    el.helpButton.focus();
  }
});
document.addEventListener("click", (e) => {
  if (!el.help.hidden && !el.searchForm.contains(e.target)) setHelp(false);
});

let searchTimer = null;
function scheduleSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, kSearchDelayMs);
}

function runSearch() {
  clearTimeout(searchTimer);
  state.query = el.search.value.trim().slice(0, kMaxQuery);
  loadMessages().then(() => showStatus(""), (err) => showStatus(`Search failed: ${err.message}`));
}

el.search.addEventListener("input", scheduleSearch);
el.searchForm.addEventListener("submit", (e) => {
  e.preventDefault();
  runSearch();
});

// ---- keyboard ------------------------------------------------------------------------------------------

function setCursor(id) {
  if (state.cursor) state.rows.get(state.cursor)?.classList.remove("cursor");
  state.cursor = id;
  const tr = id ? state.rows.get(id) : null;
  if (!tr) return;
  tr.classList.add("cursor");
  tr.focus({ preventScroll: true });
  tr.scrollIntoView({ block: "nearest" });
}

function moveCursor(step) {
  const ids = rowIds();
  if (ids.length === 0) return;
  const at = state.cursor ? ids.indexOf(state.cursor) : -1;
  const next = at < 0 ? 0 : Math.min(Math.max(at + step, 0), ids.length - 1);
  setCursor(ids[next]);
  if (next >= ids.length - 5) loadOlder();
}

function typing(target) {
  return target instanceof HTMLElement &&
         (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

const shortcutsDialog = document.getElementById("shortcuts-dialog");
document.getElementById("shortcuts-button").addEventListener("click", () => shortcutsDialog.showModal());

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
  if (typing(e.target) || document.querySelector("dialog[open]")) return;
  if (e.target instanceof Node && document.getElementById("message-pane").contains(e.target)) return;
  switch (e.key) {
    case "j":
      moveCursor(1);
      break;
    case "k":
      moveCursor(-1);
      break;
    case "Enter":
      if (!state.cursor || (e.target instanceof HTMLElement && e.target.closest("button, a, tr"))) return;
      openMessage(state.cursor);
      break;
    case "x":
      if (state.cursor) toggleSelected(state.cursor, !state.selected.has(state.cursor), false);
      break;
    case "Delete":
      bulk(deleteIds, targetIds(true));
      break;
    case "/":
      el.search.focus();
      el.search.select();
      break;
    case "?":
      shortcutsDialog.showModal();
      break;
    default:
      return;
  }
  e.preventDefault();
});

// ---- settings ------------------------------------------------------------------------------------------

document.getElementById("settings-button").addEventListener("click", () => {
  const slug = state.current ? state.current.inbox.Slug : state.base ? decodeURIComponent(state.base.slice(9)) : "default";
  settingsModule().then(({ openSettings }) => openSettings(document.getElementById("settings-dialog"), slug));
});

// ---- start ---------------------------------------------------------------------------------------------

async function start() {
  connectEvents(0);
  // The first page does not wait for the stream: it is painted as soon as it arrives, and loaded again
  // when the stream opens (see connectEvents), which catches what arrived in between.
  loadMessages().catch((err) => showStatus(`Could not load the messages: ${err.message}`));
  route();
  try {
    const info = await api("GET", `${state.base}/api/v1/info`);
    state.inboxName = (info.Inbox && info.Inbox.Name) || "";
    render();
    await loadInboxes((info.Inbox && info.Inbox.Slug) || "");
  } catch (err) {
    showStatus(`Could not load the inbox: ${err.message}`);
  }
}

start();
