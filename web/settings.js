// mailjar web UI: the inbox settings dialog (SMTP credentials with copy buttons, configuration snippets
// for common senders, retention limits, rotating credentials, creating and deleting inboxes), and the
// confirm dialog and clipboard helper the list shares.
//
// Contract: uses only GET/PATCH/DELETE /api/v1/inboxes/{slug} and POST /api/v1/inboxes. Every value from
// the server is put in the page with textContent. The dialog element is index.html's #settings-dialog;
// openSettings() rebuilds its content each time, so it always shows the server's current values.

import { api, node } from "/ui/api.js";

const kMaxName = 128;            // longest project or inbox name (the server's limit, in bytes)
const kMaxLimit = 2 ** 50;       // the API's largest retention value
const kCopiedMs = 1500;          // how long a copy button says "Copied"

// Resolves true when the person confirms `text` in index.html's #confirm-dialog, false otherwise.
export function confirmAction(text, okLabel) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-ok").focus();
  });
}

// Copies `text` to the clipboard: the async Clipboard API, else a selected textarea and execCommand
// (older browsers, and pages not in a secure context). Resolves whether it worked.
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // permission refused: try the fallback
  }
  const area = node("textarea", { value: text, readOnly: true, class: "offscreen" });
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

function copyButton(label, getText) {
  const button = node("button", { type: "button", class: "button small", text: "Copy" });
  button.setAttribute("aria-label", `Copy ${label}`);
  button.addEventListener("click", async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => (button.textContent = "Copy"), kCopiedMs);
  });
  return button;
}

// ---- snippets ------------------------------------------------------------------------------------------

const q = (s) => JSON.stringify(String(s));                    // a double-quoted literal (JS, Python, Ruby, C#)
const sh = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;   // a single-quoted shell word
const php = (s) => `'${String(s).replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

// Each: [label, (host, port, user, password) -> text]. Plain SMTP without TLS, with AUTH (the
// credentials pick the inbox).
export const kSnippets = [
  ["Rails Action Mailer", (h, p, u, w) => `# config/environments/development.rb
config.action_mailer.delivery_method = :smtp
config.action_mailer.smtp_settings = {
  address: ${q(h)},
  port: ${p},
  user_name: ${q(u)},
  password: ${q(w)},
  authentication: :plain,
  enable_starttls_auto: false
}`],
  ["Django", (h, p, u, w) => `# settings.py
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = ${q(h)}
EMAIL_PORT = ${p}
EMAIL_HOST_USER = ${q(u)}
EMAIL_HOST_PASSWORD = ${q(w)}
EMAIL_USE_TLS = False`],
  ["Laravel (.env)", (h, p, u, w) => `MAIL_MAILER=smtp
MAIL_HOST=${h}
MAIL_PORT=${p}
MAIL_USERNAME=${u}
MAIL_PASSWORD=${w}
MAIL_ENCRYPTION=null`],
  ["Node nodemailer", (h, p, u, w) => `const nodemailer = require("nodemailer");

const transporter = nodemailer.createTransport({
  host: ${q(h)},
  port: ${p},
  secure: false,
  auth: { user: ${q(u)}, pass: ${q(w)} },
});`],
  ["Spring (application.properties)", (h, p, u, w) => `spring.mail.host=${h}
spring.mail.port=${p}
spring.mail.username=${u}
spring.mail.password=${w}
spring.mail.properties.mail.smtp.auth=true
spring.mail.properties.mail.smtp.starttls.enable=false`],
  ["PHPMailer", (h, p, u, w) => `$mail = new PHPMailer\\PHPMailer\\PHPMailer(true);
$mail->isSMTP();
$mail->Host = ${php(h)};
$mail->Port = ${p};
$mail->SMTPAuth = true;
$mail->Username = ${php(u)};
$mail->Password = ${php(w)};
$mail->SMTPSecure = '';
$mail->SMTPAutoTLS = false;`],
  ["Python smtplib", (h, p, u, w) => `import smtplib
from email.message import EmailMessage

msg = EmailMessage()
msg["From"] = "app@example.com"
msg["To"] = "user@example.org"
msg["Subject"] = "Hello"
msg.set_content("Hello from my app")

with smtplib.SMTP(${q(h)}, ${p}) as smtp:
    smtp.login(${q(u)}, ${q(w)})
    smtp.send_message(msg)`],
  [".NET SmtpClient", (h, p, u, w) => `using System.Net;
using System.Net.Mail;

var client = new SmtpClient(${q(h)}, ${p})
{
    Credentials = new NetworkCredential(${q(u)}, ${q(w)}),
    EnableSsl = false,
};
client.Send("app@example.com", "user@example.org", "Hello", "Hello from my app");`],
  ["swaks", (h, p, u, w) => `swaks --server ${sh(h)} --port ${p} \\
  --auth PLAIN --auth-user ${sh(u)} --auth-password ${sh(w)} \\
  --from app@example.com --to user@example.org`],
  ["curl", (h, p, u, w) => `printf 'From: app@example.com\\r\\nTo: user@example.org\\r\\nSubject: Hello\\r\\n\\r\\nHello\\r\\n' > message.eml
curl --url ${sh(`smtp://${h}:${p}`)} --user ${sh(`${u}:${w}`)} \\
  --mail-from app@example.com --mail-rcpt user@example.org --upload-file message.eml`],
];

// The host a sender on this machine should use: the server's SMTP host, unless it is a wildcard bind.
function senderHost(host) {
  return !host || host === "0.0.0.0" || host === "::" ? location.hostname : host;
}

// ---- the dialog ----------------------------------------------------------------------------------------

function section(title, ...children) {
  return node("section", { class: "settings-section" }, node("h3", { text: title }), ...children);
}

function credentialsSection(inbox) {
  const smtp = inbox.SMTP || {};
  const rows = [
    ["Host", senderHost(smtp.Host)],
    ["Port", String(smtp.Port ?? "")],
    ["Username", smtp.Username || ""],
    ["Password", smtp.Password || ""],
  ];
  const list = node("dl", { class: "credentials" });
  for (const [label, value] of rows) {
    list.append(node("dt", { text: label }),
                node("dd", {}, node("code", { class: `cred-${label.toLowerCase()}`, text: value }),
                     copyButton(label, () => value)));
  }
  return section("SMTP credentials", list);
}

function snippetsSection(inbox) {
  const smtp = inbox.SMTP || {};
  const args = [senderHost(smtp.Host), smtp.Port ?? 25, smtp.Username || "", smtp.Password || ""];
  const select = node("select", { id: "snippet-picker" });
  kSnippets.forEach(([label], i) => select.append(node("option", { value: String(i), text: label })));
  const code = node("code", { id: "snippet" });
  const show = () => (code.textContent = kSnippets[Number(select.value)][1](...args));
  select.addEventListener("change", show);
  show();
  const label = node("label", { class: "field inline" }, node("span", { text: "Sender" }), select);
  return section("Configuration snippets",
                 node("div", { class: "snippet-bar" }, label, copyButton("snippet", () => code.textContent)),
                 node("pre", { class: "snippet" }, code));
}

function numberField(label, name, value, hint) {
  const input = node("input", { type: "number", name, min: "0", max: String(kMaxLimit), step: "1",
                                value: String(value ?? 0), required: true });
  return node("label", { class: "field" }, node("span", { text: `${label} (${hint})` }), input);
}

function retentionSection(inbox, slug, say) {
  const r = inbox.Retention || {};
  const form = node("form", { class: "retention" },
                    numberField("Max messages", "MaxMessages", r.MaxMessages, "0 = no limit"),
                    numberField("Max age in seconds", "MaxAgeSeconds", r.MaxAgeSeconds, "0 = no limit"),
                    numberField("Max bytes of mail", "MaxBytes", r.MaxBytes, "0 = no limit"),
                    node("button", { class: "button primary", type: "submit", text: "Save limits" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {};
    for (const name of ["MaxMessages", "MaxAgeSeconds", "MaxBytes"]) body[name] = Number(form.elements[name].value);
    try {
      await api("PATCH", `/api/v1/inboxes/${encodeURIComponent(slug)}`, body);
      say("Retention limits saved.");
    } catch (err) {
      say(`Could not save the limits: ${err.message}`);
    }
  });
  return section("Retention", form);
}

function createSection(inbox, say) {
  const project = node("input", { name: "Project", type: "text", required: true, maxLength: kMaxName,
                                  value: inbox.Project || "default" });
  const name = node("input", { name: "Name", type: "text", required: true, maxLength: kMaxName });
  const form = node("form", { class: "create-inbox" },
                    node("label", { class: "field" }, node("span", { text: "Project" }), project),
                    node("label", { class: "field" }, node("span", { text: "New inbox name" }), name),
                    node("button", { class: "button primary", type: "submit", text: "Create inbox" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const created = await api("POST", "/api/v1/inboxes", { Project: project.value, Name: name.value });
      location.assign(`/inboxes/${encodeURIComponent(created.Slug)}/`);
    } catch (err) {
      say(`Could not create the inbox: ${err.message}`);
    }
  });
  return section("New inbox", form);
}

function dangerSection(inbox, slug, say, reopen) {
  const rotate = node("button", { type: "button", class: "button", text: "Rotate credentials…" });
  rotate.addEventListener("click", async () => {
    if (!(await confirmAction("Rotate this inbox's SMTP username and password? Senders using the old ones " +
                              "will be refused.", "Rotate"))) return;
    try {
      await api("PATCH", `/api/v1/inboxes/${encodeURIComponent(slug)}`, { RotateCredentials: true });
      await reopen("New credentials issued.");
    } catch (err) {
      say(`Could not rotate the credentials: ${err.message}`);
    }
  });
  const children = [rotate];
  if (slug !== "default") {
    const remove = node("button", { id: "delete-inbox", type: "button", class: "button danger",
                                    text: "Delete inbox…" });
    remove.addEventListener("click", async () => {
      if (!(await confirmAction(`Delete the inbox "${inbox.Name}" and all its mail? This cannot be undone.`,
                                "Delete inbox"))) return;
      try {
        await api("DELETE", `/api/v1/inboxes/${encodeURIComponent(slug)}`);
        location.assign("/");
      } catch (err) {
        say(`Could not delete the inbox: ${err.message}`);
      }
    });
    children.push(remove);
  }
  return section("Credentials and inbox", node("div", { class: "button-row" }, ...children));
}

// Fills `dialog` with the settings of inbox `slug` and shows it (modal; Escape or Close closes it).
export async function openSettings(dialog, slug) {
  const status = node("p", { class: "settings-status", role: "status" });
  const say = (text) => (status.textContent = text);
  const close = node("button", { type: "button", class: "button", text: "Close" });
  close.addEventListener("click", () => dialog.close());
  const body = node("div", { class: "settings-body" }, node("p", { text: "Loading…" }));
  dialog.replaceChildren(
      node("div", { class: "dialog-head" }, node("h2", { id: "settings-title", text: "Inbox settings" }), close),
      status, body);
  if (!dialog.open) dialog.showModal();
  const reopen = async (message) => {
    await openSettings(dialog, slug);
    dialog.querySelector(".settings-status").textContent = message;
  };
  try {
    const inbox = await api("GET", `/api/v1/inboxes/${encodeURIComponent(slug)}`);
    dialog.querySelector("#settings-title").textContent = `Inbox settings: ${inbox.Project} / ${inbox.Name}`;
    body.replaceChildren(credentialsSection(inbox), snippetsSection(inbox), retentionSection(inbox, slug, say),
                         dangerSection(inbox, slug, say, reopen), createSection(inbox, say));
  } catch (err) {
    body.replaceChildren(node("p", { text: `Could not load the inbox: ${err.message}` }));
  }
}
