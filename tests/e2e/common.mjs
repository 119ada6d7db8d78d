// Shared by the Chromium test scripts in this folder: how Chromium is started, and the JSON-lines protocol
// they speak with tests/integration/browser.py on stdout/stdin:
//   {"check": name, "ok": true}   a passed check (check(), ask())
//   {"ask": name, ...}            a request to the Python driver, answered by one JSON line {"ok", "why"}
//   {"error": message}            printed by the runner before a non-zero exit
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";

export const kChromium = process.env.MAILJAR_CHROMIUM || "/usr/bin/chromium";  // Debian's package
export const kWaitMs = 15000;  // longest wait for anything to appear in the page
export const kChromiumArgs = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];

// playwright-core from the npm folder the driver passes (tests/integration/npm).
export function playwright(npmDir) {
  return createRequire(path.join(npmDir, "package.json"))("playwright-core");
}

export function emit(object) {
  console.log(JSON.stringify(object));
}

export function check(name, condition, detail) {
  if (!condition) throw new Error(`${name} failed${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
  emit({ check: name, ok: true });
}

let answers = null;  // the driver's answers on stdin, opened on the first ask()

// Asks the driver to act on or check the server; returns its answer, throws when it says no.
export async function ask(name, data) {
  answers ??= readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  emit({ ask: name, ...data });
  const { value, done } = await answers.next();
  if (done) throw new Error(`no answer to ${name}`);
  const answer = JSON.parse(value);
  if (!answer.ok) throw new Error(`server step ${name} failed: ${answer.why}`);
  emit({ check: name, ok: true });
  return answer;
}

// Runs the script's main() and exits 0, or reports its error on the protocol and exits 1.
export function run(main) {
  main().then(
    () => process.exit(0),
    (err) => {
      emit({ error: String(err && err.stack ? err.stack : err) });
      process.exit(1);
    });
}

// Clicks the list row whose subject is `subject` and waits for the message pane to show it; returns its ID.
export async function openRow(page, subject) {
  const row = page.locator("#message-rows tr", { has: page.locator(".col-subject", { hasText: subject }) }).first();
  await row.waitFor({ timeout: kWaitMs });
  const id = await row.getAttribute("data-id");
  await row.click();
  await page.waitForFunction((s) => {
    const h = document.querySelector("#message-pane .message-subject");
    return h && h.textContent === s;
  }, subject, { timeout: kWaitMs });
  return id;
}

// Selects a tab of the message pane and waits for its panel.
export async function openTab(page, name) {
  await page.click(`#mv-tab-${name}`);
  await page.waitForSelector(`#mv-panel-${name}:not([hidden])`, { timeout: kWaitMs });
}
