// Drives the real `mailpit-api` npm client (MailpitClient) against one mailjar inbox and asserts what
// Mailpit itself would answer. Run by ../test_mailpit_client.py, which first delivers the fixture
// messages over SMTP and describes them in a manifest file.
//
// Usage: node mailpit_client.mjs --base-url URL --smtp-port PORT --manifest FILE [--keep-going]
//   (or MAILPIT_BASE_URL, MAILJAR_SMTP_PORT, MAILPIT_MANIFEST). URL is http://HOST:PORT for the default
//   inbox or http://HOST:PORT/inboxes/SLUG for another one.
//
// Output: one JSON line per check, {"check": NAME, "ok": true, ...} or {"check": NAME, "ok": false,
// "error": ..., "actual": ..., "expected": ...}. Exits 1 on the first failed check (with --keep-going,
// after running them all), 2 on bad arguments.
//
// The manifest (written by the Python side) holds: slug, auth ({username, password} or null), tags
// (the X-Tags values of the tagged fixture), fixtures {plain, invoice, attached, tagged} with their IDs
// and expected fields, foreign {id, token} (a message of another inbox), wait {flag, token, subject, from}
// (the Python side sends that message once the flag file exists) and batch_token.
//
// Besides HTTP, the script speaks SMTP itself (to the given port, with AUTH PLAIN when the manifest has
// credentials) to deliver the messages that waitForMessages() waits for.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { MailpitClient } from "mailpit-api";

const kSmtpTimeoutMs = 10_000;          // per SMTP reply
const kSmtpMaxReplyBytes = 64 * 1024;   // a reply longer than this is a protocol error
const kWaitTimeoutMs = 15_000;          // waitForMessage(s) budget: generous, the mail arrives at once
const kWaitIntervalMs = 100;
const kBatchSize = 3;                   // messages waitForMessages() waits for
const kHost = "127.0.0.1";

// ---- arguments ------------------------------------------------------------------------------------

function parseArgs(argv) {
  const out = {
    baseUrl: process.env.MAILPIT_BASE_URL,
    smtpPort: process.env.MAILJAR_SMTP_PORT,
    manifest: process.env.MAILPIT_MANIFEST,
    keepGoing: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--keep-going") {
      out.keepGoing = true;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) usage(`missing value for ${flag}`);
    i++;
    if (flag === "--base-url") out.baseUrl = value;
    else if (flag === "--smtp-port") out.smtpPort = value;
    else if (flag === "--manifest") out.manifest = value;
    else usage(`unknown argument ${flag}`);
  }
  if (!out.baseUrl || !out.smtpPort || !out.manifest) usage("--base-url, --smtp-port and --manifest are required");
  out.smtpPort = Number(out.smtpPort);
  if (!Number.isInteger(out.smtpPort) || out.smtpPort < 1 || out.smtpPort > 65535) usage("bad --smtp-port");
  return out;
}

function usage(message) {
  process.stderr.write(`mailpit_client.mjs: ${message}\n` +
      "usage: node mailpit_client.mjs --base-url URL --smtp-port PORT --manifest FILE [--keep-going]\n");
  process.exit(2);
}

// ---- output and check runner --------------------------------------------------------------------

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

class Runner {
  constructor(keepGoing) {
    this.keepGoing = keepGoing;
    this.failed = 0;
    this.passed = 0;
  }

  // Runs one named check; fn may return an object of details for the output line.
  async check(name, fn) {
    try {
      const details = (await fn()) ?? {};
      this.passed++;
      emit({ check: name, ok: true, ...details });
    } catch (e) {
      this.failed++;
      const line = { check: name, ok: false, error: e?.message ?? String(e) };
      if (e instanceof assert.AssertionError) {
        line.actual = e.actual;
        line.expected = e.expected;
      }
      emit(line);
      if (!this.keepGoing) throw new StopRun();
    }
  }
}

class StopRun extends Error {}

// ---- a minimal SMTP client (RFC 5321 + AUTH PLAIN, RFC 4954) ------------------------------------

// Sends one message and resolves to the ID from "250 2.0.0 Ok: queued as ID". `data` is the message
// with CRLF line endings; it is dot-stuffed here.
function smtpSend(port, { from, to, data, auth }) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: kHost, port });
    socket.setTimeout(kSmtpTimeoutMs, () => socket.destroy(new Error("SMTP reply timeout")));
    let buffer = "";
    let lines = [];
    let waiting = null;  // {resolve, reject} of the pending reply
    const fail = (err) => {
      socket.destroy();
      reject(err);
    };
    socket.on("error", (err) => (waiting ? waiting.reject(err) : fail(err)));
    socket.on("close", () => waiting && waiting.reject(new Error("SMTP connection closed")));
    socket.on("data", (chunk) => {
      buffer += chunk.toString("latin1");
      if (buffer.length > kSmtpMaxReplyBytes) return fail(new Error("SMTP reply too long"));
      let idx;
      while ((idx = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        lines.push(line);
        if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
          const reply = { code: Number(line.slice(0, 3)), text: lines.map((l) => l.slice(4)).join("\n") };
          lines = [];
          const w = waiting;
          waiting = null;
          if (w) w.resolve(reply);
        }
      }
    });
    const reply = () => new Promise((res, rej) => (waiting = { resolve: res, reject: rej }));
    const expect = async (line, code) => {
      if (line !== null) socket.write(line + "\r\n", "latin1");
      const r = await reply();
      if (r.code !== code) throw new Error(`SMTP ${line ?? "greeting"}: expected ${code}, got ${r.code} ${r.text}`);
      return r;
    };
    (async () => {
      await expect(null, 220);
      await expect("EHLO node.client.test", 250);
      if (auth) {
        const plain = Buffer.from(`\0${auth.username}\0${auth.password}`, "utf8").toString("base64");
        await expect(`AUTH PLAIN ${plain}`, 235);
      }
      await expect(`MAIL FROM:<${from}>`, 250);
      await expect(`RCPT TO:<${to}>`, 250);
      await expect("DATA", 354);
      const body = data.endsWith("\r\n") ? data : data + "\r\n";
      const stuffed = body.replace(/^\./gm, "..");
      const done = await expect(stuffed + ".", 250);
      const m = /queued as (\S+)/.exec(done.text);
      if (!m) throw new Error(`no "queued as" in ${JSON.stringify(done.text)}`);
      await expect("QUIT", 221);
      socket.end();
      resolve(m[1].replace(/^<|>$/g, ""));
    })().catch(fail);
  });
}

function smtpMessage({ from, to, subject, body, extraHeaders = [] }) {
  return [`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, "Date: Tue, 02 Jan 2024 12:00:00 +0000",
          "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii", ...extraHeaders, "", body, ""]
      .join("\r\n");
}

// ---- helpers ---------------------------------------------------------------------------------------

const ids = (list) => list.messages.map((m) => m.ID);
const normText = (s) => s.replace(/\r\n/g, "\n").trim();
const sorted = (a) => [...a].sort();

async function rejects404(promise, what) {
  await assert.rejects(promise, (e) => {
    assert.match(e.message, /\b404\b/, `${what}: expected a 404 error, got: ${e.message}`);
    return true;
  });
}

async function blobBytes(blob) {
  return Buffer.from(await blob.arrayBuffer());
}

// ---- the checks ------------------------------------------------------------------------------------

async function run(args, manifest, r) {
  const mp = new MailpitClient(args.baseUrl);
  const fx = manifest.fixtures;
  const { plain, invoice, attached, tagged } = fx;
  const [tagA, tagB] = manifest.tags;
  const slug = manifest.slug;
  // The inbox's messages, newest first; every check below keeps it in step with what it did.
  let expected = [tagged.id, attached.id, invoice.id, plain.id];

  await r.check("getInfo", async () => {
    const info = await mp.getInfo();
    assert.equal(typeof info.Version, "string");
    assert.ok(info.Version.length > 0, "Version is empty");
    assert.equal(typeof info.LatestVersion, "string");
    assert.equal(typeof info.Database, "string");
    assert.equal(typeof info.DatabaseSize, "number");
    assert.equal(info.Messages, 4);
    assert.equal(info.Unread, 4);
    assert.deepEqual(info.Tags, { [tagA]: 1, [tagB]: 1 });
    assert.equal(typeof info.RuntimeStats, "object");
    assert.equal(typeof info.RuntimeStats.Uptime, "number");
    for (const k of ["SMTPAccepted", "SMTPAcceptedSize", "SMTPRejected", "SMTPIgnored", "MessagesDeleted"]) {
      assert.equal(typeof info.RuntimeStats[k], "number", `RuntimeStats.${k} is not a number`);
    }
    assert.ok(info.RuntimeStats.SMTPAccepted >= 4, "RuntimeStats.SMTPAccepted < messages accepted");
    return { version: info.Version, messages: info.Messages };
  });

  await r.check("getConfiguration", async () => {
    const c = await mp.getConfiguration();
    assert.equal(typeof c.Label, "string");
    assert.equal(c.MessageRelay.Enabled, false, "mailjar never relays");
    for (const k of ["SpamAssassin", "ChaosEnabled", "DuplicatesIgnored", "HideDeleteAllButton"]) {
      assert.equal(typeof c[k], "boolean", `${k} is not a boolean`);
    }
    return { label: c.Label };
  });

  await r.check("listMessages", async () => {
    const list = await mp.listMessages();
    assert.deepEqual(ids(list), expected, "listing is not the inbox's messages newest first");
    assert.equal(list.total, 4);
    assert.equal(list.messages_count, 4);
    assert.equal(list.count, 4);
    assert.equal(list.unread, 4);
    assert.equal(list.start, 0);
    assert.deepEqual(list.tags, [tagA, tagB]);
    const m = list.messages.find((x) => x.ID === plain.id);
    assert.equal(m.MessageID, plain.message_id);
    assert.deepEqual(m.From, plain.from);
    assert.deepEqual(m.To, plain.to);
    assert.deepEqual(m.Cc, plain.cc);
    assert.deepEqual(m.Bcc, []);
    assert.deepEqual(m.ReplyTo, plain.reply_to);
    assert.equal(m.Subject, plain.subject);
    assert.equal(m.Size, plain.size);
    assert.equal(m.Attachments, 0);
    assert.equal(m.Read, false);
    assert.deepEqual(m.Tags, []);
    assert.ok(!Number.isNaN(Date.parse(m.Created)), `Created is not a date: ${m.Created}`);
    assert.ok(m.Snippet.includes(plain.word), `Snippet lacks the body's word: ${m.Snippet}`);
    const a = list.messages.find((x) => x.ID === attached.id);
    assert.equal(a.Attachments, 1);
    const t = list.messages.find((x) => x.ID === tagged.id);
    assert.deepEqual(t.Tags, [tagA, tagB]);
    if (manifest.auth) assert.equal(m.Username, manifest.auth.username);
    return { ids: ids(list) };
  });

  await r.check("listMessages paging", async () => {
    const page = await mp.listMessages(1, 2);
    assert.deepEqual(ids(page), expected.slice(1, 3));
    assert.equal(page.start, 1);
    assert.equal(page.count, 2);
    assert.equal(page.total, 4);
    const past = await mp.listMessages(10, 5);
    assert.deepEqual(past.messages, []);
    assert.equal(past.total, 4);
  });

  await r.check("isolation from other inboxes", async () => {
    const found = await mp.searchMessages({ query: manifest.foreign.token });
    assert.equal(found.messages_count, 0, "a message of another inbox is searchable here");
    assert.deepEqual(found.messages, []);
    await rejects404(mp.getMessageSummary(manifest.foreign.id), "getMessageSummary(foreign)");
    await rejects404(mp.getMessageSource(manifest.foreign.id), "getMessageSource(foreign)");
  });

  // Searches run before anything is read: every match is unread.
  const searches = [
    { name: "word", query: plain.word, want: [plain.id] },
    { name: "phrase", query: `"${manifest.phrase}"`, want: [plain.id] },
    { name: "words", query: manifest.phrase, want: [invoice.id, plain.id] },
    { name: "from:", query: "from:carol@example.net", want: [tagged.id, invoice.id] },
    { name: "subject:", query: "subject:invoice", want: [invoice.id] },
    { name: "has:attachment", query: "has:attachment", want: [attached.id] },
    { name: "negation", query: "-from:carol@example.net", want: [attached.id, plain.id] },
    { name: "tag:", query: `tag:${tagA}`, want: [tagged.id] },
    { name: "is:unread", query: "is:unread", want: expected },
    { name: "is:read", query: "is:read", want: [] },
  ];
  for (const s of searches) {
    await r.check(`searchMessages ${s.name}`, async () => {
      const res = await mp.searchMessages({ query: s.query });
      assert.deepEqual(ids(res), s.want, `search ${JSON.stringify(s.query)}`);
      assert.equal(res.messages_count, s.want.length);
      assert.equal(res.messages_unread, s.want.length);
      assert.equal(res.count, s.want.length);
      assert.equal(res.total, 4);
      assert.equal(res.start, 0);
      return { query: s.query, ids: ids(res) };
    });
  }

  await r.check("getMessageSummary", async () => {
    const m = await mp.getMessageSummary(plain.id);
    assert.equal(m.ID, plain.id);
    assert.equal(m.MessageID, plain.message_id);
    assert.deepEqual(m.From, plain.from);
    assert.deepEqual(m.To, plain.to);
    assert.deepEqual(m.Cc, plain.cc);
    assert.deepEqual(m.Bcc, []);
    assert.deepEqual(m.ReplyTo, plain.reply_to);
    assert.equal(m.Subject, plain.subject);
    assert.equal(Date.parse(m.Date), Date.parse(plain.date), `Date ${m.Date}`);
    assert.equal(normText(m.Text), normText(plain.text));
    assert.equal(m.HTML, "");
    assert.equal(m.Size, plain.size);
    assert.deepEqual(m.Attachments, []);
    assert.deepEqual(m.Inline, []);
    assert.deepEqual(m.Tags, []);
    if (manifest.auth) assert.equal(m.Username, manifest.auth.username);
    // Reading the summary marks the message read (Mailpit's documented behaviour).
    const list = await mp.listMessages();
    assert.equal(list.messages.find((x) => x.ID === plain.id).Read, true, "summary did not mark it read");
    assert.equal(list.unread, 3);
  });

  await r.check("getMessageSummary latest", async () => {
    const m = await mp.getMessageSummary("latest");
    assert.equal(m.ID, tagged.id);
    assert.equal(m.Subject, tagged.subject);
    assert.deepEqual(m.Tags, [tagA, tagB]);
    const dflt = await mp.getMessageSummary();
    assert.equal(dflt.ID, tagged.id);
  });

  await r.check("getMessageHeaders", async () => {
    const h = await mp.getMessageHeaders(plain.id);
    assert.deepEqual(h["Subject"], [plain.subject]);
    assert.deepEqual(h["X-Mailjar-Token"], [plain.token]);
    assert.deepEqual(h["Date"], [plain.date]);
    const keys = Object.keys(h);
    assert.deepEqual(keys, [...keys].sort(), "header keys are not in alphabetical order");
    const t = await mp.getMessageHeaders(tagged.id);
    assert.deepEqual(t["X-Tags"], [tagged.x_tags]);
  });

  await r.check("getMessageSource", async () => {
    const src = await mp.getMessageSource(plain.id);
    assert.equal(src, plain.raw, "raw source differs from the bytes sent over SMTP");
    return { bytes: src.length };
  });

  await r.check("getMessageAttachment", async () => {
    const m = await mp.getMessageSummary(attached.id);
    assert.equal(m.Attachments.length, 1);
    const att = m.Attachments[0];
    assert.equal(att.FileName, attached.filename);
    assert.equal(att.ContentType, attached.content_type);
    const want = Buffer.from(attached.content_b64, "base64");
    assert.equal(att.Size, want.length);
    assert.equal(typeof att.PartID, "string");
    assert.equal(normText(m.Text), normText(attached.text));
    const blob = await mp.getMessageAttachment(attached.id, att.PartID);
    assert.ok(blob.type.startsWith(attached.content_type), `attachment type ${blob.type}`);
    const got = await blobBytes(blob);
    assert.ok(got.equals(want), `attachment bytes differ (got ${got.length} bytes, want ${want.length})`);
    return { partID: att.PartID, bytes: got.length };
  });

  const searchIds = async (query) => ids(await mp.searchMessages({ query }));

  await r.check("setReadStatus all unread", async () => {
    assert.equal(await mp.setReadStatus({ Read: false }), "ok");
    assert.deepEqual(await searchIds("is:unread"), expected);
    assert.deepEqual(await searchIds("is:read"), []);
    assert.equal((await mp.listMessages()).unread, 4);
  });

  await r.check("setReadStatus by IDs", async () => {
    assert.equal(await mp.setReadStatus({ IDs: [plain.id, invoice.id], Read: true }), "ok");
    assert.deepEqual(await searchIds("is:read"), [invoice.id, plain.id]);
    assert.deepEqual(await searchIds("is:unread"), [tagged.id, attached.id]);
    assert.equal((await mp.getInfo()).Unread, 2);
  });

  await r.check("setReadStatus by search", async () => {
    assert.equal(await mp.setReadStatus({ Search: "from:carol@example.net", Read: false }), "ok");
    assert.deepEqual(await searchIds("is:read"), [plain.id]);
    assert.deepEqual(await searchIds("is:unread"), [tagged.id, attached.id, invoice.id]);
  });

  await r.check("setReadStatus all read", async () => {
    assert.equal(await mp.setReadStatus({ Read: true }), "ok");
    assert.deepEqual(await searchIds("is:unread"), []);
    assert.deepEqual(await searchIds("is:read"), expected);
    const list = await mp.listMessages();
    assert.equal(list.unread, 0);
    assert.ok(list.messages.every((m) => m.Read === true));
  });

  const tagC = `gamma-${slug}`;
  const tagD = `delta-${slug}`;
  const tagE = `omega-${slug}`;
  const tagsOf = async (id) => (await mp.getMessageSummary(id)).Tags;

  await r.check("getTags from X-Tags", async () => {
    assert.deepEqual(await mp.getTags(), [tagA, tagB]);
    assert.deepEqual(await tagsOf(tagged.id), [tagA, tagB]);
  });

  await r.check("setTags", async () => {
    assert.equal(await mp.setTags({ IDs: [plain.id, invoice.id], Tags: [tagC, tagD] }), "ok");
    assert.deepEqual(await tagsOf(plain.id), sorted([tagC, tagD]));
    assert.deepEqual(await tagsOf(invoice.id), sorted([tagC, tagD]));
    assert.deepEqual(await mp.getTags(), sorted([tagA, tagB, tagC, tagD]));
    assert.deepEqual(await searchIds(`tag:${tagC}`), [invoice.id, plain.id]);
    assert.deepEqual((await mp.getInfo()).Tags, { [tagA]: 1, [tagB]: 1, [tagC]: 2, [tagD]: 2 });
  });

  await r.check("renameTag", async () => {
    assert.equal(await mp.renameTag(tagC, tagE), "ok");
    assert.deepEqual(await mp.getTags(), sorted([tagA, tagB, tagD, tagE]));
    assert.deepEqual(await tagsOf(plain.id), sorted([tagD, tagE]));
    assert.deepEqual(await searchIds(`tag:${tagC}`), []);
    assert.deepEqual(await searchIds(`tag:${tagE}`), [invoice.id, plain.id]);
  });

  await r.check("deleteTag", async () => {
    assert.equal(await mp.deleteTag(tagE), "ok");
    assert.deepEqual(await mp.getTags(), sorted([tagA, tagB, tagD]));
    assert.deepEqual(await tagsOf(plain.id), [tagD]);
    assert.deepEqual(ids(await mp.listMessages()), expected, "deleteTag deleted messages");
  });

  await r.check("setTags without Tags clears", async () => {
    assert.equal(await mp.setTags({ IDs: [plain.id, invoice.id] }), "ok");
    assert.deepEqual(await tagsOf(plain.id), []);
    assert.deepEqual(await tagsOf(invoice.id), []);
    assert.deepEqual(await mp.getTags(), [tagA, tagB]);
  });

  let waitedId = null;
  await r.check("waitForMessage", async () => {
    const w = manifest.wait;
    assert.deepEqual(await searchIds(w.token), [], "the awaited message is there before the wait");
    writeFileSync(w.flag, "waiting\n");
    const m = await mp.waitForMessage({ query: w.token }, { timeout: kWaitTimeoutMs, interval: kWaitIntervalMs });
    assert.equal(m.Subject, w.subject);
    assert.equal(m.From.Address, w.from);
    waitedId = m.ID;
    expected = [m.ID, ...expected];
    assert.deepEqual(ids(await mp.listMessages()), expected);
    return { id: m.ID };
  });

  let batchIds = [];
  await r.check("waitForMessages count", async () => {
    const token = manifest.batch_token;
    // Settles to {result} or {error}, so a failed send below leaves no unhandled rejection behind.
    const waiting = mp.waitForMessages({ query: token, count: kBatchSize },
                                       { timeout: kWaitTimeoutMs, interval: kWaitIntervalMs })
                        .then((result) => ({ result }), (error) => ({ error }));
    const sent = [];
    for (let i = 1; i <= kBatchSize; i++) {
      sent.push(await smtpSend(args.smtpPort, {
        from: "batch@example.com",
        to: "batch-rcpt@example.org",
        auth: manifest.auth,
        data: smtpMessage({ from: "Batch <batch@example.com>", to: "batch-rcpt@example.org",
                            subject: `Batch ${i} ${token}`, body: `batch message ${i} ${token}` }),
      }));
    }
    const { result, error } = await waiting;
    if (error) throw error;
    assert.ok(result.messages_count >= kBatchSize);
    const exact = await mp.waitForMessages({ query: token, count: kBatchSize, exact: true },
                                           { timeout: kWaitTimeoutMs, interval: kWaitIntervalMs });
    assert.equal(exact.messages_count, kBatchSize);
    assert.deepEqual(ids(exact), [...sent].reverse());
    assert.deepEqual(exact.messages.map((m) => m.Subject),
                     [3, 2, 1].map((i) => `Batch ${i} ${token}`));
    const none = await mp.waitForMessages({ query: `nothing-${token}`, count: 0 }, { timeout: kWaitTimeoutMs });
    assert.equal(none.messages_count, 0);
    batchIds = sent;
    expected = [...[...sent].reverse(), ...expected];
    return { ids: sent };
  });

  let sentId = null;
  await r.check("sendMessage", async () => {
    const payload = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));
    const subject = `Sent via API ${manifest.batch_token}`;
    const res = await mp.sendMessage({
      From: { Email: "api@example.com", Name: "API Sender" },
      To: [{ Email: "dest@example.org", Name: "Dest" }],
      Subject: subject,
      Text: "Sent through the API.",
      Tags: [`sent-${slug}`],
      Attachments: [{ Filename: "data.bin", ContentType: "application/octet-stream",
                      Content: payload.toString("base64") }],
    });
    assert.equal(typeof res.ID, "string");
    sentId = res.ID;
    expected = [sentId, ...expected];
    const list = await mp.listMessages();
    assert.deepEqual(ids(list), expected);
    const item = list.messages[0];
    assert.equal(item.Subject, subject);
    assert.equal(item.Attachments, 1);
    assert.deepEqual(item.From, { Name: "API Sender", Address: "api@example.com" });
    assert.deepEqual(item.To, [{ Name: "Dest", Address: "dest@example.org" }]);
    assert.deepEqual(item.Tags, [`sent-${slug}`]);
    const m = await mp.getMessageSummary(sentId);
    assert.equal(normText(m.Text), "Sent through the API.");
    assert.equal(m.Attachments.length, 1);
    assert.equal(m.Attachments[0].FileName, "data.bin");
    assert.equal(m.Attachments[0].ContentType, "application/octet-stream");
    const got = await blobBytes(await mp.getMessageAttachment(sentId, m.Attachments[0].PartID));
    assert.ok(got.equals(payload), "sent attachment bytes differ");
    return { id: sentId };
  });

  await r.check("deleteMessages by IDs", async () => {
    assert.equal(await mp.deleteMessages({ IDs: [plain.id, invoice.id] }), "ok");
    expected = expected.filter((id) => id !== plain.id && id !== invoice.id);
    const list = await mp.listMessages();
    assert.deepEqual(ids(list), expected);
    assert.equal(list.total, expected.length);
    await rejects404(mp.getMessageSummary(plain.id), "getMessageSummary(deleted)");
  });

  await r.check("deleteMessagesBySearch", async () => {
    assert.equal(await mp.deleteMessagesBySearch({ query: "from:batch@example.com" }), "ok");
    expected = expected.filter((id) => !batchIds.includes(id));
    assert.deepEqual(ids(await mp.listMessages()), expected);
    assert.deepEqual(expected, [sentId, waitedId, tagged.id, attached.id]);
    assert.equal((await mp.getInfo()).Messages, expected.length);
  });

  await r.check("deleteMessages all", async () => {
    assert.equal(await mp.deleteMessages(), "ok");
    const list = await mp.listMessages();
    assert.deepEqual(list.messages, []);
    assert.equal(list.total, 0);
    assert.equal((await mp.getInfo()).Messages, 0);
    assert.deepEqual(await mp.getTags(), []);
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const manifest = JSON.parse(readFileSync(args.manifest, "utf8"));
  const r = new Runner(args.keepGoing);
  try {
    await run(args, manifest, r);
  } catch (e) {
    if (!(e instanceof StopRun)) {
      emit({ check: "script", ok: false, error: e?.stack ?? String(e) });
      r.failed++;
    }
  }
  emit({ summary: true, passed: r.passed, failed: r.failed });
  process.exitCode = r.failed ? 1 : 0;
}

await main();
