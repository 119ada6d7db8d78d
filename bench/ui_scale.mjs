// UI timings in real headless Chromium (issue 4's targets), against a running mailjar:
//   paint   navigation start -> first row of the message list in the DOM      (target < 500 ms)
//   open    click on a row -> the message pane shows that message's subject    (target < 200 ms)
//   live    SMTP "250 ... queued" -> the new message's row in the open list     (target < 100 ms)
// Prints one JSON object per round. Usage: node bench/ui_scale.mjs BASE_URL SMTP_PORT ROUNDS
// (run by bench/ui_scale.py, which starts the server and reports the medians).
import net from "node:net";
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/integration/npm/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [baseUrl, smtpPort, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg || 3);

// One SMTP transaction on a raw socket; resolves with Date.now() when the 250 to the data arrives.
function sendMail(subject) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(smtpPort), "127.0.0.1");
    const steps = ["EHLO bench\r\n", "MAIL FROM:<bench@example.com>\r\n", "RCPT TO:<ui@example.org>\r\n", "DATA\r\n",
      `From: Bench <bench@example.com>\r\nTo: ui@example.org\r\nSubject: ${subject}\r\n\r\nUI latency.\r\n.\r\n`,
      "QUIT\r\n"];
    let buffer = "";
    let step = 0;
    let queuedAt = 0;
    socket.setTimeout(30000, () => reject(new Error("smtp timeout")));
    socket.on("data", (chunk) => {
      buffer += chunk.toString();
      let nl;
      while ((nl = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (line[3] === "-") continue;  // multi-line reply continues
        if (line.startsWith("250 2.0.0 Ok: queued")) queuedAt = Date.now();
        if (!/^[23]/.test(line)) return reject(new Error(`smtp: ${line}`));
        if (step < steps.length) socket.write(steps[step++]);
        else socket.end();
      }
    });
    socket.on("close", () => (queuedAt ? resolve(queuedAt) : reject(new Error("no 250 for the message"))));
    socket.on("error", reject);
  });
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
});
try {
  for (let round = 0; round < rounds; round++) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // Records when the first list row and later rows appear, relative to navigation start and in wall time.
    await page.addInitScript(() => {
      window.__firstRowAt = null;
      window.__rowSeen = new Map();  // subject -> Date.now() when its row appeared
      new MutationObserver(() => {
        const rows = document.querySelectorAll("#message-rows tr[data-id]");
        if (rows.length && window.__firstRowAt === null) window.__firstRowAt = performance.now();
        for (const tr of rows) {
          const text = tr.textContent;
          const m = /uibench-[0-9]+-[0-9a-z]{8}/.exec(text);
          if (m && !window.__rowSeen.has(m[0])) window.__rowSeen.set(m[0], Date.now());
        }
      }).observe(document, { childList: true, subtree: true });
    });
    await page.goto(baseUrl);
    await page.waitForFunction(() => window.__firstRowAt !== null, null, { timeout: 30000 });
    const paint = await page.evaluate(() => window.__firstRowAt);

    // Open the second row (the first may be this round's live message later on).
    const open = await page.evaluate(() => new Promise((resolve) => {
      const row = document.querySelectorAll("#message-rows tr[data-id]")[1];
      const subject = row.querySelector(".col-subject")?.textContent || "";
      const pane = document.getElementById("message-pane");
      const t0 = performance.now();
      const done = () => {
        if (!pane.hidden && pane.textContent.includes(subject)) {
          observer.disconnect();
          resolve(performance.now() - t0);
          return true;
        }
        return false;
      };
      const observer = new MutationObserver(done);
      observer.observe(pane, { childList: true, subtree: true, attributes: true, characterData: true });
      row.click();
      done();
    }));

    // Live arrival: wait until the WebSocket is open (the UI's live indicator), then send.
    await page.waitForSelector('#live[data-state="live"]', { timeout: 30000 });
    const token = `uibench-${round}-${Math.random().toString(36).slice(2, 10).padEnd(8, "0")}`;
    const queuedAt = await sendMail(token);
    await page.waitForFunction((t) => window.__rowSeen.has(t), token, { timeout: 30000 });
    const seenAt = await page.evaluate((t) => window.__rowSeen.get(t), token);
    console.log(JSON.stringify({ round, paint_ms: paint, open_ms: open, live_ms: seenAt - queuedAt }));
    await page.close();
  }
} finally {
  await browser.close();
}
