// End-to-end test of the web UI in real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core from tests/integration/npm). Run by tests/integration/test_web_ui.py, which owns the
// server and the SMTP side:
//
//   node ui.mjs <base-url> <token> <screenshot-dir> <npm-dir>
//
// Protocol on stdout, one JSON object per line: {"check": name, "ok": true} for each passed check,
// {"ready": "live"} when the page shows the two preloaded messages (the driver then sends the live
// ones over SMTP), and {"error": message} before a non-zero exit. Every wait is bounded.
import { createRequire } from "node:module";
import path from "node:path";

const [baseUrl, token, shotDir, npmDir] = process.argv.slice(2);
if (!baseUrl || !token || !shotDir || !npmDir) {
  console.log(JSON.stringify({ error: "usage: ui.mjs <base-url> <token> <screenshot-dir> <npm-dir>" }));
  process.exit(2);
}
const require = createRequire(path.join(npmDir, "package.json"));
const { chromium } = require("playwright-core");

const kChromium = process.env.MAILJAR_CHROMIUM || "/usr/bin/chromium";  // Debian's package
const kWaitMs = 15000;  // longest wait for anything to appear in the page
const kHostileSubject = "<img src=x onerror=window.__pwned=1>";
// The flags this closed network needs (see the env notes): no background connections to Google.
const kChromiumArgs = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];

function emit(object) {
  console.log(JSON.stringify(object));
}

function check(name, condition, detail) {
  if (!condition) throw new Error(`${name} failed${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
  emit({ check: name, ok: true });
}

const subjects = (page) => page.$$eval("#message-rows .col-subject", (cells) => cells.map((c) => c.textContent));

async function waitForSubject(page, subject) {
  await page.waitForFunction(
    (s) => [...document.querySelectorAll("#message-rows .col-subject")].some((c) => c.textContent === s),
    subject, { timeout: kWaitMs });
}

async function main() {
  const browser = await chromium.launch({ executablePath: kChromium, headless: true, args: kChromiumArgs });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const problems = [];  // script errors, console errors (a CSP violation is one), failed requests
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
    });

    const response = await page.goto(baseUrl, { waitUntil: "domcontentloaded", timeout: kWaitMs });
    check("page served", response && response.status() === 200, response && response.status());
    const csp = (await response.allHeaders())["content-security-policy"] || "";
    check("page has a strict CSP", csp.includes("script-src 'self'") && !csp.includes("unsafe"), csp);

    // The two messages sent before the page opened, newest first.
    await waitForSubject(page, `First ${token}`);
    await waitForSubject(page, `Second ${token}`);
    const initial = await subjects(page);
    check("list shows both subjects newest first",
          initial.indexOf(`Second ${token}`) === 0 && initial.indexOf(`First ${token}`) === 1, initial);
    const firstRow = await page.$eval("#message-rows tr[data-id]", (tr) => ({
      preview: tr.querySelector(".col-preview").textContent,
      size: tr.querySelector(".col-time .size").textContent,
    }));
    check("rows show the snippet and the size",
          firstRow.preview.includes("Hello from the web UI test.") && /^[0-9.]+ (B|kB|MB)$/.test(firstRow.size),
          firstRow);
    await page.waitForFunction(
      () => [...document.querySelectorAll("#inbox-picker option")].some((o) => o.selected && o.value !== ""),
      null, { timeout: kWaitMs });
    const picker = await page.$eval("#inbox-picker", (select) => select.selectedOptions[0].textContent);
    check("inbox picker shows the inbox", picker === "default / default (2, 2 unread)", picker);
    await page.waitForSelector('#live[data-state="live"]', { timeout: kWaitMs });
    check("live stream connected", true);
    check("title has the unread count", (await page.title()).startsWith("(2) "), await page.title());

    // The driver now sends the third message and the hostile one over SMTP.
    emit({ ready: "live" });
    await waitForSubject(page, `Live ${token}`);
    await waitForSubject(page, kHostileSubject);
    const live = await subjects(page);
    check("live arrivals prepended without reload",
          live.length === 4 && live.slice(2).join("|") === initial.slice(0, 2).join("|"), live);
    await page.waitForFunction(() => document.title.startsWith("(4) "), null, { timeout: kWaitMs });
    check("title follows live arrivals", true);
    const current = await page.$eval("#inbox-picker", (select) => select.selectedOptions[0].textContent);
    check("picker count follows live arrivals", current === "default / default (4, 4 unread)", current);

    const hostile = async () =>
      page.evaluate((s) => {
        const cell = [...document.querySelectorAll("#message-rows .col-subject")].find((c) => c.textContent === s);
        return {
          text: cell ? cell.textContent : null,
          children: cell ? cell.children.length : -1,
          images: document.querySelectorAll("#message-rows img").length,
          pwned: typeof window.__pwned,
        };
      }, kHostileSubject);
    const liveHostile = await hostile();
    check("hostile subject is literal text (live)",
          liveHostile.text === kHostileSubject && liveHostile.children === 0 && liveHostile.images === 0,
          liveHostile);
    check("hostile subject ran nothing (live)", liveHostile.pwned === "undefined", liveHostile);
    await page.screenshot({ path: path.join(shotDir, "message-list.png"), fullPage: true });

    // A fresh load renders the same four from the API (the list path, not the event path).
    await page.reload({ waitUntil: "domcontentloaded", timeout: kWaitMs });
    await waitForSubject(page, kHostileSubject);
    const reloaded = await hostile();
    check("hostile subject is literal text (loaded)",
          reloaded.text === kHostileSubject && reloaded.children === 0 && reloaded.images === 0, reloaded);
    check("hostile subject ran nothing (loaded)", reloaded.pwned === "undefined", reloaded);
    check("list after reload", (await subjects(page)).join("|") === live.join("|"), await subjects(page));

    await page.emulateMedia({ colorScheme: "dark" });
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check("dark mode follows the system", background !== "rgb(247, 248, 250)", background);
    await page.screenshot({ path: path.join(shotDir, "message-list-dark.png"), fullPage: true });

    check("no script or console errors", problems.length === 0, problems);
  } finally {
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    emit({ error: String(err && err.stack ? err.stack : err) });
    process.exit(1);
  });
