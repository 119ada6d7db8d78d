// End-to-end test of the web UI in real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core from tests/integration/npm). Run by tests/integration/test_web_ui.py, which owns the
// server and the SMTP side:
//
//   node ui.mjs <base-url> <token> <screenshot-dir> <npm-dir>
//
// Protocol on stdout, one JSON object per line: {"check": name, "ok": true} for each passed check,
// {"ready": "live"} when the page shows the two preloaded messages (the driver then sends the live
// ones over SMTP), and {"error": message} before a non-zero exit. Every wait is bounded.
import path from "node:path";
import { check, emit, kChromium, kChromiumArgs, kWaitMs, playwright, run } from "./common.mjs";

const [baseUrl, token, shotDir, npmDir] = process.argv.slice(2);
if (!baseUrl || !token || !shotDir || !npmDir) {
  console.log(JSON.stringify({ error: "usage: ui.mjs <base-url> <token> <screenshot-dir> <npm-dir>" }));
  process.exit(2);
}
const { chromium } = playwright(npmDir);

const kHostileSubject = "<img src=x onerror=window.__pwned=1>";
// The flags this closed network needs (see the env notes): no background connections to Google.

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

    // WCAG 2 contrast of the list's text (body text, muted text, the top bar) against what is behind it,
    // in the light and the dark palette: at least 4.5:1 (AA for normal text).
    const contrasts = () => page.evaluate(() => {
      const rgb = (c) => (c.match(/[0-9.]+/g) || []).slice(0, 4).map(Number);
      const lum = ([r, g, b]) => {
        const f = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const behind = (el) => {
        for (let e = el; e; e = e.parentElement) {
          const c = rgb(getComputedStyle(e).backgroundColor);
          if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c;
        }
        return [255, 255, 255];
      };
      const ratio = (el) => {
        const a = lum(rgb(getComputedStyle(el).color));
        const b = lum(behind(el));
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      };
      const pick = ["#message-rows .col-subject", "#message-rows .col-from", "#message-rows .col-time time",
                    "#message-rows .col-preview", "#counts", ".messages th"];
      return Object.fromEntries(pick.map((q) => [q, document.querySelector(q) ? ratio(document.querySelector(q)) : 0]));
    });
    const light = await contrasts();
    check("text contrast at least 4.5:1 (light)", Object.values(light).every((r) => r >= 4.5), light);

    await page.emulateMedia({ colorScheme: "dark" });
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check("dark mode follows the system", background !== "rgb(247, 248, 250)", background);
    const dark = await contrasts();
    check("text contrast at least 4.5:1 (dark)", Object.values(dark).every((r) => r >= 4.5), dark);
    await page.screenshot({ path: path.join(shotDir, "message-list-dark.png"), fullPage: true });

    // A 4K screen: the list uses the width, nothing overflows sideways, text is not tiny.
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize({ width: 3840, height: 2160 });
    const wide = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      inner: window.innerWidth,
      table: document.querySelector(".messages").getBoundingClientRect().width,
      font: parseFloat(getComputedStyle(document.querySelector("#message-rows .col-subject")).fontSize),
    }));
    check("4K layout uses the width without overflow",
          wide.scroll <= wide.inner && wide.table >= 2400 && wide.font >= 14, wide);
    await page.screenshot({ path: path.join(shotDir, "message-list-4k.png") });

    // Both first-page loads (at start and when the stream opens) are long done: neither may leave an error.
    const status = await page.$eval("#status", (e) => (e.hidden ? "" : e.textContent));
    check("status line shows no error", status === "", status);
    check("no script or console errors", problems.length === 0, problems);
  } finally {
    await browser.close();
  }
}

run(main);
