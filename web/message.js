// mailjar web UI: the message pane (issue 4's message view).
//
// Contract: showMessage(pane, base, id, {onClose}) renders message `id` of the inbox at `base` ("" or
// "/inboxes/{slug}") into `pane`: a header (subject, addresses, date, size, tags, actions) and the tabs
// HTML, Text, Source, Headers, Attachments, Analysis. closeMessage(pane) empties it. onClose is called
// by the Close button and after a delete. analysisArrived(id) is called for each WebSocket "analysis"
// event: the open message's Analysis tab re-reads its reports (see the Analysis tab section).
//
// Mail is hostile. Its HTML is shown only in an <iframe sandbox> (no scripts, no same-origin access,
// popups only so links open in a new tab) loading {base}/view/{id}.html, whose own CSP blocks scripts and,
// until the person asks, remote images. Everything else from the message (subject, addresses, headers,
// source, file names) is set with textContent; HTML parsed here (DOMParser) is only read, never
// attached to this document.

import { api, formatSize, node, request } from "/ui/api.js";

const kMaxSourceChars = 2 * 1024 * 1024;  // the Source tab shows at most this much (download for the rest)
const kMaxHeaderRows = 2000;              // rows in the Headers table
const kMaxParsedHtmlChars = 4 * 1024 * 1024;  // HTML larger than this is not parsed for counts/text
const kWidths = [["phone", "Phone", "375 px"], ["tablet", "Tablet", "768 px"], ["desktop", "Desktop", "100%"]];
const kTabs = [
  ["html", "HTML"], ["text", "Text"], ["source", "Source"], ["headers", "Headers"],
  ["attachments", "Attachments"], ["analysis", "Analysis"],
];

let generation = 0;  // bumps on every show/close, so a slow fetch for an older message renders nothing

function button(label, className, onClick) {
  const b = node("button", { class: className, text: label });
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function formatAddress(a) {
  if (!a || !a.Address) return a && a.Name ? a.Name : "";
  return a.Name ? `${a.Name} <${a.Address}>` : a.Address;
}

function formatAddresses(list) {
  return (Array.isArray(list) ? list : []).map(formatAddress).filter(Boolean).join(", ");
}

function formatDate(text) {
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? String(text || "") : d.toLocaleString();
}

function messageUrl(base, id) {
  return `${base}/api/v1/message/${encodeURIComponent(id)}`;
}

// Parses mail HTML into a detached document (DOMParser runs no scripts and loads nothing); null when
// there is none or it is too large to inspect.
function parseHtml(html) {
  if (!html || html.length > kMaxParsedHtmlChars) return null;
  return new DOMParser().parseFromString(html, "text/html");
}

const kRemote = /^\s*https?:\/\//i;
const kCssUrl = /url\(\s*(['"]?)([^'")]*)\1\s*\)/gi;

// The number of remote (http/https) image references in a parsed message: <img src>, srcset entries,
// background attributes and url(...) in style attributes and <style> elements.
export function countRemoteImages(doc) {
  if (!doc) return 0;
  let count = 0;
  const cssUrls = (css) => {
    for (const m of String(css).matchAll(kCssUrl)) if (kRemote.test(m[2])) count += 1;
  };
  for (const img of doc.querySelectorAll("img[src], input[type=image][src]")) {
    if (kRemote.test(img.getAttribute("src"))) count += 1;
  }
  for (const e of doc.querySelectorAll("[srcset]")) {
    for (const candidate of e.getAttribute("srcset").split(",")) if (kRemote.test(candidate)) count += 1;
  }
  for (const e of doc.querySelectorAll("[background]")) {
    if (kRemote.test(e.getAttribute("background"))) count += 1;
  }
  for (const e of doc.querySelectorAll("[style]")) cssUrls(e.getAttribute("style"));
  for (const s of doc.querySelectorAll("style")) cssUrls(s.textContent);
  return count;
}

const kBlockTags = new Set(["P", "DIV", "TR", "LI", "H1", "H2", "H3", "H4", "H5", "H6", "TABLE", "BLOCKQUOTE",
                            "PRE", "UL", "OL", "SECTION", "ARTICLE", "HEADER", "FOOTER", "HR"]);

// A plain-text rendering of a parsed message (line breaks at <br> and block ends; scripts and styles
// dropped). The detached document is changed, never shown.
export function htmlToText(doc) {
  if (!doc || !doc.body) return "";
  for (const e of doc.querySelectorAll("script, style, noscript, template, head")) e.remove();
  for (const br of doc.body.querySelectorAll("br")) br.replaceWith("\n");
  for (const e of doc.body.querySelectorAll("*")) if (kBlockTags.has(e.tagName)) e.append("\n");
  return doc.body.textContent.replace(/[ \t]+\n/g, "\n").replace(/\n{3,}/g, "\n\n").trim();
}

// ---- tabs ------------------------------------------------------------------------------------------------

// Builds an accessible tab strip (role=tablist/tab/tabpanel, roving tabindex, arrow keys, Home/End);
// `render(name, panel)` fills a panel the first time its tab is chosen.
function buildTabs(render) {
  const list = node("div", { class: "mv-tabs" });
  list.setAttribute("role", "tablist");
  list.setAttribute("aria-label", "Message views");
  const panels = node("div", { class: "mv-panels" });
  const tabs = [];
  const rendered = new Set();
  const select = (index, focus) => {
    tabs.forEach((t, i) => {
      const on = i === index;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      t.panel.hidden = !on;
    });
    const tab = tabs[index];
    if (focus) tab.focus();
    if (!rendered.has(tab.dataset.tab)) {
      rendered.add(tab.dataset.tab);
      render(tab.dataset.tab, tab.panel);
    }
  };
  kTabs.forEach(([name, label], i) => {
    const tab = node("button", { class: "mv-tab", text: label });
    tab.type = "button";
    tab.id = `mv-tab-${name}`;
    tab.dataset.tab = name;
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", `mv-panel-${name}`);
    const panel = node("div", { class: "mv-panel" });
    panel.id = `mv-panel-${name}`;
    panel.dataset.panel = name;
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", tab.id);
    panel.tabIndex = 0;
    tab.panel = panel;
    tab.addEventListener("click", () => select(i, false));
    tab.addEventListener("keydown", (e) => {
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: kTabs.length - 1 };
      if (!(e.key in moves)) return;
      e.preventDefault();
      select((moves[e.key] + kTabs.length) % kTabs.length, true);
    });
    tabs.push(tab);
    list.append(tab);
    panels.append(panel);
  });
  return { list, panels, select };
}

function notice(panel, text) {
  panel.replaceChildren(node("p", { class: "mv-empty", text: text }));
}

// Runs an async panel renderer, showing its failure in the panel instead of leaving it blank.
function guarded(panel, work) {
  work().catch((err) => notice(panel, `Could not load: ${err.message}`));
}

// ---- the panels ------------------------------------------------------------------------------------------

function renderHtml(panel, base, id, m, doc) {
  if (!m.HTML) {
    notice(panel, "This message has no HTML part.");
    return;
  }
  const bar = node("div", { class: "mv-toolbar" });
  const frame = node("iframe", { class: "mv-frame" });
  frame.setAttribute("sandbox", "allow-popups allow-popups-to-escape-sandbox");
  frame.setAttribute("referrerpolicy", "no-referrer");
  frame.title = "HTML body of the message";
  frame.dataset.width = "desktop";
  const viewUrl = `${base}/view/${encodeURIComponent(id)}.html`;
  frame.src = viewUrl;

  const widths = node("div", { class: "mv-widths" });
  widths.setAttribute("role", "group");
  widths.setAttribute("aria-label", "Preview width");
  for (const [name, label, size] of kWidths) {
    const b = button(label, "mv-width", () => {
      frame.dataset.width = name;
      for (const other of widths.children) other.setAttribute("aria-pressed", String(other === b));
    });
    b.dataset.width = name;
    b.title = size;
    b.setAttribute("aria-pressed", String(name === "desktop"));
    widths.append(b);
  }
  bar.append(widths);

  const blocked = countRemoteImages(doc);
  if (blocked > 0) {
    const note = node("p", { class: "mv-remote" });
    note.setAttribute("role", "status");
    const text = node("span", { class: "mv-remote-text", text: `${blocked} remote image${blocked === 1 ? "" : "s"} blocked` });
    const show = button("Show images", "mv-show-images", () => {
      frame.src = `${viewUrl}?remote=1`;
      text.textContent = `${blocked} remote image${blocked === 1 ? "" : "s"} shown`;
      show.remove();
    });
    note.append(text, " ", show);
    bar.append(note);
  }
  const holder = node("div", { class: "mv-frame-holder" });
  holder.append(frame);
  panel.replaceChildren(bar, holder);
}

function renderText(panel, m, doc) {
  const text = m.Text || htmlToText(doc);
  if (!text) {
    notice(panel, "This message has no text.");
    return;
  }
  const pre = node("pre", { class: "mv-pre mv-text", text: text });
  if (!m.Text) panel.replaceChildren(node("p", { class: "mv-note", text: "No text part: this is a rendering of the HTML." }), pre);
  else panel.replaceChildren(pre);
}

// The raw message with its header lines split into name and value spans (continuation lines are value).
function colourSource(raw) {
  const pre = node("pre", { class: "mv-pre mv-source" });
  const end = raw.search(/\r?\n\r?\n/);
  const head = end < 0 ? raw : raw.slice(0, end);
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (/^[ \t]/.test(line) || colon <= 0) {
      pre.append(node("span", { class: "mv-hvalue", text: line }), "\n");
    } else {
      pre.append(node("span", { class: "mv-hname", text: line.slice(0, colon + 1) }), node("span", { class: "mv-hvalue", text: line.slice(colon + 1) }),
                 "\n");
    }
  }
  if (end >= 0) pre.append(raw.slice(end).replace(/^\r?\n/, ""));
  return pre;
}

async function renderSource(panel, base, id) {
  const rawUrl = `${messageUrl(base, id)}/raw`;
  const raw = await (await request("GET", rawUrl)).text();
  const bar = node("div", { class: "mv-toolbar" });
  const dl = node("a", { class: "mv-download", text: "Download .eml" });
  dl.href = `${rawUrl}?dl=1`;
  dl.setAttribute("download", `${id}.eml`);
  bar.append(dl);
  if (raw.length > kMaxSourceChars) {
    bar.append(node("span", { class: "mv-note", text: `Showing the first ${formatSize(kMaxSourceChars)}; download for all of it.` }));
  }
  panel.replaceChildren(bar, colourSource(raw.slice(0, kMaxSourceChars)));
}

function envelopeList(envelope) {
  const section = node("section", { class: "mv-envelope" });
  section.append(node("h3", { text: "Envelope" }));
  if (!envelope) {
    section.append(node("p", { class: "mv-empty", text: "No SMTP envelope recorded (the message did not arrive over SMTP)." }));
    return section;
  }
  const tls = envelope.TLSVersion ? `${envelope.TLSVersion}${envelope.TLSCipher ? ` (${envelope.TLSCipher})` : ""}` : "none";
  const client = envelope.ClientIP ? `${envelope.ClientIP}${envelope.ClientPort ? `:${envelope.ClientPort}` : ""}` : "";
  const rows = [
    ["MAIL FROM", envelope.MailFrom || "<>"],
    ["RCPT TO", (envelope.RcptTo || []).map((r) => r.Address).join(", ")],
    ["Client IP", client],
    ["HELO", envelope.Helo || ""],
    ["TLS", tls],
    ["Auth user", envelope.AuthUser || "none"],
  ];
  const dl = node("dl", { class: "mv-dl" });
  for (const [name, value] of rows) dl.append(node("dt", { text: name }), node("dd", { text: value }));
  section.append(dl);
  return section;
}

async function renderHeaders(panel, base, id, m) {
  const headers = await api("GET", `${messageUrl(base, id)}/headers`);
  const table = node("table", { class: "mv-headers" });
  table.setAttribute("aria-label", "Headers");
  const thead = node("thead");
  const hr = node("tr");
  hr.append(node("th", { text: "Name" }), node("th", { text: "Value" }));
  for (const th of hr.children) th.scope = "col";
  thead.append(hr);
  const tbody = node("tbody");
  let rows = 0;
  for (const [name, values] of Object.entries(headers || {})) {
    for (const value of Array.isArray(values) ? values : [values]) {
      if (rows++ >= kMaxHeaderRows) break;
      const tr = node("tr");
      const th = node("th", { class: "mv-hname", text: name });
      th.scope = "row";
      tr.append(th, node("td", { class: "mv-hvalue", text: String(value) }));
      tbody.append(tr);
    }
  }
  table.append(thead, tbody);
  const wrap = node("div", { class: "mv-headers-layout" });
  const left = node("section", { class: "mv-headers-table" });
  left.append(node("h3", { text: "Headers" }), table);
  wrap.append(left, envelopeList(m.Envelope));
  panel.replaceChildren(wrap);
}

function renderAttachments(panel, base, id, m) {
  const parts = [
    ...(m.Attachments || []).map((p) => ({ ...p, kind: "attachment" })),
    ...(m.Inline || []).map((p) => ({ ...p, kind: "inline" })),
  ];
  if (parts.length === 0) {
    notice(panel, "No attachments or inline parts.");
    return;
  }
  const list = node("ul", { class: "mv-parts" });
  for (const p of parts) {
    const li = node("li", { class: "mv-part" });
    li.dataset.partId = p.PartID;
    const url = `${messageUrl(base, id)}/part/${encodeURIComponent(p.PartID)}`;
    if (/^image\//i.test(p.ContentType || "")) {
      const img = node("img", { class: "mv-thumb" });
      img.src = url;
      img.alt = p.FileName || p.ContentID || "image";
      img.loading = "lazy";
      li.append(img);
    } else {
      li.append(node("span", { class: "mv-thumb mv-thumb-generic", text: (p.ContentType || "?").split("/").pop().slice(0, 4) }));
    }
    const info = node("div", { class: "mv-part-info" });
    info.append(node("span", { class: "mv-part-name", text: p.FileName || p.ContentID || `part ${p.PartID}` }));
    info.append(node("span", { class: "mv-part-meta", text: `${p.ContentType || "application/octet-stream"} · ${formatSize(p.Size)} · ${p.kind}` }));
    const sha = (p.Checksums && p.Checksums.SHA256) || "";
    const code = node("code", { class: "mv-part-sha", text: sha ? `SHA-256 ${sha}` : "" });
    info.append(code);
    const a = node("a", { class: "mv-part-download", text: "Download" });
    a.href = url;
    a.setAttribute("download", p.FileName || `part-${p.PartID}`);
    info.append(a);
    li.append(info);
    list.append(li);
  }
  panel.replaceChildren(list);
}

// ---- the Analysis tab ------------------------------------------------------------------------------------
// GET {base}/api/v1/message/{ID}/analysis answers {ID, Analyzers, Reports}: the analyzers configured on the
// server in run order, and the reports stored so far (Report: Analyzer, Title, Verdict, Score|null, Summary,
// Findings [{ID, Severity, Message, Evidence}], DurationMs, Created). POST to the same URL runs them now
// and answers the same shape. Every value of a report is set with textContent (evidence quotes the mail).

const kVerdicts = { pass: "Pass", warn: "Warning", fail: "Fail", neutral: "Neutral", error: "Error" };
const kSeverities = { info: "Info", warning: "Warning", error: "Error" };
const kVerdictMarks = { pass: "✓", warn: "!", fail: "✗", neutral: "–", error: "?" };
const kSeverityMarks = { info: "i", warning: "!", error: "✗" };
const kMaxFindings = 500;  // findings shown per report

// The open message's Analysis tab once it has been shown: {id, load} (load re-fetches and re-renders it).
let liveAnalysis = null;

// A badge whose meaning is in its text (a mark and a word), not only in its colour. `kind` is "verdict" or
// "severity"; `value` comes from the server and is shown as given when it is not a known one.
function badge(kind, value, labels, marks) {
  const key = String(value ?? "").toLowerCase();
  const known = Object.hasOwn(labels, key);
  const b = node("span", { class: `mv-badge mv-${kind}` });
  b.dataset[kind] = known ? key : "other";
  const mark = node("span", { class: "mv-badge-mark", text: known ? marks[key] : "·" });
  mark.setAttribute("aria-hidden", "true");
  b.append(node("span", { class: "visually-hidden", text: kind === "verdict" ? "Verdict: " : "Severity: " }), mark,
           node("span", { class: "mv-badge-text", text: known ? labels[key] : String(value ?? "unknown") }));
  return b;
}

function formatDuration(ms) {
  const n = Number(ms);
  if (!Number.isFinite(n) || n < 0) return "";
  return n < 10 ? `${n.toFixed(2)} ms` : n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(1)} s`;
}

function findingItem(f) {
  const li = node("li", { class: "mv-finding" });
  const finding = f && typeof f === "object" ? f : { Message: String(f) };
  li.dataset.severity = String(finding.Severity ?? "").toLowerCase();
  const line = node("div", { class: "mv-finding-line" });
  line.append(badge("severity", finding.Severity, kSeverities, kSeverityMarks), " ",
              node("span", { class: "mv-finding-message", text: String(finding.Message ?? "") }));
  if (finding.ID) line.append(" ", node("span", { class: "mv-finding-id", text: String(finding.ID) }));
  li.append(line);
  if (finding.Evidence !== undefined && finding.Evidence !== null && String(finding.Evidence) !== "") {
    li.append(node("code", { class: "mv-finding-evidence", text: String(finding.Evidence) }));
  }
  return li;
}

function reportSection(report, index) {
  const r = report && typeof report === "object" ? report : {};
  const section = node("section", { class: "mv-analysis" });
  const name = String(r.Analyzer ?? "");
  section.dataset.analyzer = name;
  if (r.Verdict !== undefined) section.dataset.verdict = String(r.Verdict).toLowerCase();
  const head = node("div", { class: "mv-analysis-head" });
  const title = node("h3", { class: "mv-analysis-title", text: String(r.Title || name || `Report ${index + 1}`) });
  title.id = `mv-analysis-${index}`;
  section.setAttribute("aria-labelledby", title.id);
  head.append(title, badge("verdict", r.Verdict, kVerdicts, kVerdictMarks));
  if (r.Score !== null && r.Score !== undefined) head.append(node("span", { class: "mv-score", text: `Score ${r.Score}` }));
  section.append(head);
  if (r.Summary) section.append(node("p", { class: "mv-analysis-summary", text: String(r.Summary) }));
  const findings = Array.isArray(r.Findings) ? r.Findings : [];
  if (findings.length === 0) {
    section.append(node("p", { class: "mv-note", text: "No findings." }));
  } else {
    const ul = node("ul", { class: "mv-findings" });
    ul.setAttribute("aria-label", "Findings");
    for (const f of findings.slice(0, kMaxFindings)) ul.append(findingItem(f));
    section.append(ul);
    if (findings.length > kMaxFindings) {
      section.append(node("p", { class: "mv-note", text: `Showing the first ${kMaxFindings} of ${findings.length} findings.` }));
    }
  }
  const meta = [name && name !== title.textContent ? name : "", formatDuration(r.DurationMs),
                r.Created ? `analysed ${formatDate(r.Created)}` : ""].filter(Boolean);
  if (meta.length) section.append(node("p", { class: "mv-analysis-meta", text: meta.join(" · ") }));
  return section;
}

// Fills `panel` from one analysis answer; `run()` is what the Run buttons do.
function renderAnalysis(panel, answer, run) {
  const analyzers = Array.isArray(answer && answer.Analyzers) ? answer.Analyzers.map(String) : [];
  const reports = Array.isArray(answer && answer.Reports) ? answer.Reports : [];
  const status = node("p", { class: "mv-analysis-status" });
  status.setAttribute("role", "status");
  const runButton = (label) => {
    const b = button(label, "mv-run-analysis", () => run(b, status));
    return b;
  };
  if (reports.length === 0) {
    if (analyzers.length === 0) {
      panel.replaceChildren(node("p", { class: "mv-empty", text: "No analyzers are enabled on this server." }));
      return;
    }
    const bar = node("div", { class: "mv-toolbar" });
    bar.append(runButton("Run analysis now"));
    panel.replaceChildren(node("p", { class: "mv-empty", text: "No analyzers have run for this message yet." }), bar, status);
    return;
  }
  const out = [];
  if (analyzers.length) {
    const bar = node("div", { class: "mv-toolbar mv-analysis-bar" });
    const again = runButton("Run again");
    again.classList.add("mv-small");
    bar.append(again);
    out.push(bar, status);
  }
  reports.forEach((r, i) => out.push(reportSection(r, i)));
  const done = new Set(reports.map((r) => String((r && r.Analyzer) ?? "")));
  for (const name of analyzers) {
    if (!done.has(name)) {
      const p = node("p", { class: "mv-pending" });
      p.dataset.analyzer = name;
      p.append(node("span", { class: "mv-pending-name", text: name }), ": pending (it has not run for this message yet)");
      out.push(p);
    }
  }
  panel.replaceChildren(...out);
}

// The Analysis tab of message `id`: load() fetches and renders the stored reports; the Run buttons POST
// and render the answer (a failure is a line under the button, the reports shown stay). Of answers that
// cross, the one asked for last wins; nothing renders once another message is shown (`mine` is this
// one's generation). A render keeps keyboard focus inside the panel when it was there.
function analysisTab(panel, base, id, mine) {
  const url = `${messageUrl(base, id)}/analysis`;
  let asked = 0;  // requests started
  let shown = 0;  // the newest request whose answer is rendered
  const current = (ticket) => mine === generation && ticket > shown;
  const show = (ticket, answer) => {
    shown = ticket;
    const hadFocus = panel.contains(document.activeElement);
    renderAnalysis(panel, answer, run);
    if (hadFocus) (panel.querySelector(".mv-run-analysis") || panel).focus({ preventScroll: true });
  };
  const fail = (text) => {
    if (mine !== generation) return;
    const status = panel.querySelector(".mv-analysis-status");
    if (!status) return;
    status.textContent = `Could not run the analysis: ${text}`;
    status.classList.add("mv-error");
  };
  // A busy button stays focusable (aria-disabled, not disabled), so focus is not dropped while it runs.
  async function run(b, status) {
    if (b.getAttribute("aria-disabled") === "true") return;
    const ticket = ++asked;
    b.setAttribute("aria-disabled", "true");
    panel.setAttribute("aria-busy", "true");
    status.classList.remove("mv-error");
    status.textContent = "Running the analyzers…";
    try {
      const answer = await api("POST", url);
      if (current(ticket)) show(ticket, answer);
    } catch (err) {
      fail(err.message);
    } finally {
      b.removeAttribute("aria-disabled");
      panel.removeAttribute("aria-busy");
    }
  }
  const load = async () => {
    const ticket = ++asked;
    try {
      const answer = await api("GET", url);
      if (current(ticket)) show(ticket, answer);
    } catch (err) {
      if (current(ticket)) notice(panel, `Could not load: ${err.message}`);
    }
  };
  return { id, load };
}

// Called for every "analysis" event of the inbox (app.js): when message `id` is the open one and its
// Analysis tab has been shown, the tab re-fetches and re-renders its reports in place (also while another
// tab is selected); no tab is switched and focus is not moved out of where it is. Otherwise the tab
// fetches fresh reports when it is first shown, so nothing is needed now.
export function analysisArrived(id) {
  if (liveAnalysis && liveAnalysis.id === String(id)) liveAnalysis.load();
}

// ---- the header and entry points -------------------------------------------------------------------------

function renderHeader(base, id, m, onClose, status) {
  const header = node("header", { class: "mv-header" });
  const actions = node("div", { class: "mv-actions" });
  const say = (text) => { status.textContent = text; };
  actions.append(
    button("Close", "mv-close", () => onClose && onClose()),
    button("Mark unread", "mv-unread", async () => {
      try {
        await request("PUT", `${base}/api/v1/messages`, { IDs: [id], Read: false });
        say("Marked unread.");
      } catch (err) {
        say(`Could not mark unread: ${err.message}.`);
      }
    }),
    button("Delete", "mv-delete", async () => {
      try {
        await request("DELETE", `${base}/api/v1/messages`, { IDs: [id] });
        if (onClose) onClose();
      } catch (err) {
        say(`Could not delete: ${err.message}.`);
      }
    }),
  );
  const eml = node("a", { class: "mv-eml", text: "Download .eml" });
  eml.href = `${messageUrl(base, id)}/raw?dl=1`;
  eml.setAttribute("download", `${id}.eml`);
  actions.append(eml);

  const h = node("h2", { class: "message-subject", text: m.Subject || "(no subject)" });
  const meta = node("dl", { class: "mv-meta" });
  const rows = [["From", formatAddress(m.From)], ["To", formatAddresses(m.To)], ["Cc", formatAddresses(m.Cc)],
                ["Date", formatDate(m.Date)], ["Size", formatSize(m.Size)]];
  for (const [name, value] of rows) {
    if (!value) continue;
    const dd = node("dd", { class: `mv-${name.toLowerCase()}`, text: value });
    meta.append(node("dt", { text: name }), dd);
  }
  header.append(actions, h, meta);
  if (Array.isArray(m.Tags) && m.Tags.length) {
    const tags = node("ul", { class: "mv-tags" });
    tags.setAttribute("aria-label", "Tags");
    for (const t of m.Tags) tags.append(node("li", { class: "mv-tag", text: t }));
    header.append(tags);
  }
  return header;
}

export async function showMessage(pane, base, id, { onClose } = {}) {
  const mine = ++generation;
  liveAnalysis = null;
  pane.replaceChildren(node("p", { class: "mv-loading", text: "Loading…" }));
  let m;
  try {
    m = await api("GET", messageUrl(base, id));
  } catch (err) {
    if (mine !== generation) return;
    if (err.status === 404) {
      const close = button("Close", "mv-close", () => onClose && onClose());
      pane.replaceChildren(close, node("h2", { class: "message-subject", text: "Message not found" }));
    } else {
      pane.replaceChildren(node("p", { class: "mv-empty", text: `Could not load the message: ${err.message}` }));
    }
    return;
  }
  if (mine !== generation) return;
  const doc = parseHtml(m.HTML);
  const status = node("p", { class: "mv-status" });
  status.setAttribute("role", "status");
  const tabs = buildTabs((name, panel) => {
    switch (name) {
      case "html": return renderHtml(panel, base, id, m, doc);
      case "text": return renderText(panel, m, parseHtml(m.HTML));
      case "source": return guarded(panel, () => renderSource(panel, base, id));
      case "headers": return guarded(panel, () => renderHeaders(panel, base, id, m));
      case "attachments": return renderAttachments(panel, base, id, m);
      default: {
        liveAnalysis = analysisTab(panel, base, id, mine);
        return liveAnalysis.load();
      }
    }
  });
  pane.replaceChildren(renderHeader(base, id, m, onClose, status), status, tabs.list, tabs.panels);
  tabs.select(m.HTML ? 0 : 1, false);
}

export function closeMessage(pane) {
  generation += 1;
  liveAnalysis = null;
  pane.replaceChildren();
}
