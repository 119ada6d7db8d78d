// End-to-end test of the message view's Analysis tab (web/message.js) in real headless Chromium (same
// launch as message.mjs). Run by tests/integration/test_web_analysis.py, which owns two servers (one with
// `--analysis-queue 0`, so reports appear only when something POSTs; one with `--analyzers none`), sends
// the mail over SMTP and does the POSTs "from outside" that the page must follow live:
//
//   node analysis.mjs <queue0-url> <none-url> <spec-json> <screenshot-dir> <npm-dir>
//
// spec: {"live", "run", "gone", "none": subjects; "hostileId": ID of the message (already analysed) whose
// From is `hostileFrom`, a markup payload; "hostileEvidence": its from.unparseable evidence as the API
// returned it}. The answer to "analysis posted from outside the page" carries the report's "summary".
// Protocol: stdout lines {"check": name, "ok": true}, {"ask": name, ...} (the driver acts on or checks the
// server and answers one JSON line on stdin, {"ok": true, ...} or {"ok": false, "why": ...}),
// {"error": message} before a non-zero exit. Every wait is bounded.
import path from "node:path";
import { ask, check, kChromium, kChromiumArgs, kWaitMs, openRow, openTab, playwright, run } from "./common.mjs";

const [queueUrl, noneUrl, specJson, shotDir, npmDir] = process.argv.slice(2);
if (!queueUrl || !noneUrl || !specJson || !shotDir || !npmDir) {
  console.log(JSON.stringify({ error: "usage: analysis.mjs <queue0-url> <none-url> <spec-json> <screenshot-dir> <npm-dir>" }));
  process.exit(2);
}
const spec = JSON.parse(specJson);
const { chromium } = playwright(npmDir);

const kLiveWaitMs = 10000;   // longest wait for a report stored from outside to show up in the open tab
const kHostileWaitMs = 1000;  // how long the hostile evidence gets to try something
const kNotRun = "No analyzers have run for this message yet.";
const kNoneEnabled = "No analyzers are enabled on this server.";

// Waits for the Analysis panel to show its "nothing yet" line and returns what the panel holds.
async function emptyAnalysis(page) {
  await page.waitForSelector("#mv-panel-analysis .mv-empty", { timeout: kWaitMs });
  return page.$eval("#mv-panel-analysis", (p) => ({
    empty: p.querySelector(".mv-empty").textContent,
    buttons: [...p.querySelectorAll("button")].map((b) => b.textContent),
    sections: p.querySelectorAll(".mv-analysis").length,
  }));
}

// The rendered headers report of the open message.
const headersReport = (page) => page.$eval('#mv-panel-analysis .mv-analysis[data-analyzer="headers"]', (s) => ({
  title: s.querySelector(".mv-analysis-title").textContent,
  verdict: s.querySelector(".mv-verdict").dataset.verdict,
  verdictText: s.querySelector(".mv-verdict").textContent,
  summary: s.querySelector(".mv-analysis-summary")?.textContent ?? "",
  findings: [...s.querySelectorAll(".mv-finding")].map((li) => ({
    id: li.querySelector(".mv-finding-id")?.textContent ?? "",
    severity: li.querySelector(".mv-severity").dataset.severity,
    severityText: li.querySelector(".mv-severity").textContent,
    message: li.querySelector(".mv-finding-message").textContent,
    evidence: li.querySelector("code.mv-finding-evidence")?.textContent ?? null,
    evidenceChildren: li.querySelector("code.mv-finding-evidence")?.childElementCount ?? 0,
  })),
  runAgain: [...document.querySelectorAll("#mv-panel-analysis button.mv-run-analysis")].map((b) => b.textContent),
}));

const kReportSelector = '#mv-panel-analysis .mv-analysis[data-analyzer="headers"]';

async function main() {
  const browser = await chromium.launch({ executablePath: kChromium, headless: true, args: kChromiumArgs });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
    const page = await context.newPage();
    const problems = [];  // script errors and failed requests of the UI itself
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console: ${msg.text()} at ${msg.location().url}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
    });
    const posts = [];  // analysis POSTs made by the page itself
    page.on("request", (r) => {
      if (r.method() === "POST" && /\/analysis$/.test(r.url())) posts.push(r.url());
    });

    // ---- a message nobody has analysed: the tab says so, then fills in live when the driver POSTs.
    await page.goto(queueUrl, { waitUntil: "domcontentloaded", timeout: kWaitMs });
    await page.waitForSelector('#live[data-state="live"]', { timeout: kWaitMs });
    const liveId = await openRow(page, spec.live);
    await openTab(page, "analysis");
    const before = await emptyAnalysis(page);
    check("Analysis tab says no analyzers have run yet",
          before.empty === kNotRun && before.buttons.join() === "Run analysis now" && before.sections === 0, before);
    await page.screenshot({ path: path.join(shotDir, "analysis-empty.png") });

    await page.evaluate(() => { window.__sameDocument = true; });
    const posted = await ask("analysis posted from outside the page", { id: liveId });
    await page.waitForSelector(kReportSelector, { timeout: kLiveWaitMs });
    const liveState = await page.evaluate(() => ({
      sameDocument: window.__sameDocument === true,
      selected: document.querySelector('#message-pane [role="tab"][aria-selected="true"]')?.id,
      empty: document.querySelector("#mv-panel-analysis .mv-empty")?.textContent ?? null,
    }));
    check("report fills in live without reload or click",
          liveState.sameDocument && liveState.selected === "mv-tab-analysis" && liveState.empty === null &&
          posts.length === 0, { liveState, posts });
    const live = await headersReport(page);
    const liveIds = live.findings.map((f) => f.id);
    const severityOf = (report, id) => report.findings.find((f) => f.id === id)?.severity;
    check("live report lists date.missing and message_id.missing",
          live.title === "Header sanity" && live.verdict === "fail" && severityOf(live, "date.missing") === "error" &&
          severityOf(live, "message_id.missing") === "warning" && live.summary === posted.summary, { live, posted });
    const dateFinding = live.findings.find((f) => f.id === "date.missing");
    check("verdict and severity badges say it in words",
          live.verdictText === "Verdict: ✗Fail" && dateFinding.severityText === "Severity: ✗Error" &&
          live.findings.find((f) => f.id === "message_id.missing").severityText === "Severity: !Warning", live);
    check("Run again button shown with reports", live.runAgain.join() === "Run again", live.runAgain);
    await page.screenshot({ path: path.join(shotDir, "analysis-live.png") });

    // The tab follows new reports while another tab is shown, without switching tabs or taking focus.
    await page.$eval(kReportSelector, (s) => { s.dataset.stale = "1"; });
    await page.click("#mv-tab-text");
    await page.focus("#mv-tab-text");
    await ask("analysis posted again from outside the page", { id: liveId });
    await page.waitForFunction((sel) => {
      const s = document.querySelector(sel);
      return s && !s.dataset.stale;
    }, kReportSelector, { timeout: kLiveWaitMs });
    const hidden = await page.evaluate(() => ({
      selected: document.querySelector('#message-pane [role="tab"][aria-selected="true"]')?.id,
      focus: document.activeElement?.id,
      analysisHidden: document.querySelector("#mv-panel-analysis").hidden,
    }));
    check("hidden Analysis tab refreshes live without switching tabs or focus",
          hidden.selected === "mv-tab-text" && hidden.focus === "mv-tab-text" && hidden.analysisHidden &&
          posts.length === 0, { hidden, posts });

    // ---- Run analysis now, from the page.
    const runId = await openRow(page, spec.run);
    await openTab(page, "analysis");
    const runBefore = await emptyAnalysis(page);
    check("second message starts without reports", runBefore.empty === kNotRun, runBefore);
    await page.click("#mv-panel-analysis button.mv-run-analysis");
    await page.waitForSelector(kReportSelector, { timeout: kWaitMs });
    const ran = await headersReport(page);
    const ranIds = ran.findings.map((f) => f.id);
    check("Run analysis now shows the report",
          posts.length === 1 && posts[0].endsWith(`/api/v1/message/${runId}/analysis`) && ran.title === "Header sanity" &&
          ranIds.includes("date.missing") && !ranIds.includes("message_id.missing") && ran.verdict === "fail",
          { posts, ran });
    await ask("server stored the report the page asked for", { id: runId });
    await page.screenshot({ path: path.join(shotDir, "analysis-run.png") });

    // ---- a run that fails (the message was deleted behind the page) is a line in the panel.
    const goneId = await openRow(page, spec.gone);
    await openTab(page, "analysis");
    check("third message starts without reports", (await emptyAnalysis(page)).empty === kNotRun);
    await ask("message deleted behind the page", { id: goneId });
    await page.click("#mv-panel-analysis button.mv-run-analysis");
    await page.waitForSelector("#mv-panel-analysis .mv-analysis-status.mv-error", { timeout: kWaitMs });
    const failed = await page.$eval("#mv-panel-analysis", (p) => ({
      status: p.querySelector(".mv-analysis-status").textContent,
      role: p.querySelector(".mv-analysis-status").getAttribute("role"),
      empty: p.querySelector(".mv-empty")?.textContent,
    }));
    check("a failed run shows an error line",
          failed.status.startsWith("Could not run the analysis: ") && failed.status.includes("HTTP 404") &&
          failed.role === "status" && failed.empty === kNotRun, failed);
    await page.screenshot({ path: path.join(shotDir, "analysis-error.png") });

    // ---- hostile evidence is text.
    await page.evaluate((id) => { location.hash = `#/m/${id}`; }, spec.hostileId);
    await page.waitForFunction(() => document.querySelector("#message-pane .message-subject")?.textContent ===
                               "(no subject)", null, { timeout: kWaitMs });
    await openTab(page, "analysis");
    await page.waitForSelector(kReportSelector, { timeout: kWaitMs });
    await page.waitForTimeout(kHostileWaitMs);
    const hostile = await headersReport(page);
    const unparseable = hostile.findings.find((f) => f.id === "from.unparseable");
    check("hostile evidence is literal text",
          unparseable && unparseable.evidence === spec.hostileEvidence && unparseable.evidence.includes(spec.hostileFrom) &&
          unparseable.evidenceChildren === 0, hostile);
    const ran2 = await page.evaluate(() => ({
      pwned: typeof window.__pwned,
      images: document.querySelectorAll("#message-pane img").length,
    }));
    check("hostile evidence created no element and ran nothing", ran2.pwned === "undefined" && ran2.images === 0, ran2);
    await page.screenshot({ path: path.join(shotDir, "analysis-hostile.png") });

    // ---- dark mode follows the system (the badge colours come from the palette).
    const badgeColour = () => page.$eval(`${kReportSelector} .mv-verdict`, (b) => getComputedStyle(b).color);
    const light = await badgeColour();
    await page.emulateMedia({ colorScheme: "dark" });
    const dark = await badgeColour();
    check("dark mode follows the system", light !== dark, { light, dark });
    await page.screenshot({ path: path.join(shotDir, "analysis-dark.png") });
    await page.emulateMedia({ colorScheme: "light" });

    // ---- a server with no analyzers.
    await page.goto(noneUrl, { waitUntil: "domcontentloaded", timeout: kWaitMs });
    await openRow(page, spec.none);
    await openTab(page, "analysis");
    const none = await emptyAnalysis(page);
    check("Analysis tab says no analyzers are enabled",
          none.empty === kNoneEnabled && none.buttons.length === 0 && none.sections === 0, none);
    await page.screenshot({ path: path.join(shotDir, "analysis-none.png") });

    // The one failure this script causes on purpose: the run of the deleted message (its response, and
    // the browser's console line about it).
    const goneUrl = `${queueUrl.replace(/\/$/, "")}/api/v1/message/${goneId}/analysis`;
    const own = problems.filter((p) => !p.endsWith(`POST ${goneUrl}`) &&
                                       !(p.startsWith("console: Failed to load resource") && p.endsWith(` at ${goneUrl}`)));
    check("no script errors or failed requests", own.length === 0, own);
  } finally {
    await browser.close();
  }
}

run(main);
