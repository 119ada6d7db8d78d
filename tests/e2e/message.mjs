// End-to-end test of the message view (web/message.js) in real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core from tests/integration/npm). Run by
// tests/integration/test_web_message.py, which sends the mail over SMTP before starting this script:
//
//   node message.mjs <base-url> <spec-json> <screenshot-dir> <npm-dir>
//
// spec: {"rich": subject, "hostile": subject, "pdfName", "pdfSha256", "pdfSize", "remoteUrl"}.
// Protocol on stdout, one JSON object per line: {"check": name, "ok": true} for each passed check and
// {"error": message} before a non-zero exit. Every wait is bounded.
import path from "node:path";
import { check, kChromium, kChromiumArgs, kWaitMs, openRow, openTab, playwright, run } from "./common.mjs";

const [baseUrl, specJson, shotDir, npmDir] = process.argv.slice(2);
if (!baseUrl || !specJson || !shotDir || !npmDir) {
  console.log(JSON.stringify({ error: "usage: message.mjs <base-url> <spec-json> <screenshot-dir> <npm-dir>" }));
  process.exit(2);
}
const spec = JSON.parse(specJson);
const { chromium } = playwright(npmDir);

const kHostileWaitMs = 2000;  // how long the hostile message gets to try something

async function main() {
  const browser = await chromium.launch({ executablePath: kChromium, headless: true, args: kChromiumArgs });
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    const problems = [];  // script errors and failed requests of the UI itself
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    const seen = [];  // every URL the page and its frames requested
    page.on("request", (r) => seen.push(r.url()));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    // The remote image: answered here (the network is closed), recorded so the test knows if it loaded.
    let remoteLoads = 0;
    await context.route(spec.remoteUrl, (route) => {
      remoteLoads += 1;
      route.fulfill({ status: 200, contentType: "image/gif",
                      body: Buffer.from("R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==", "base64") });
    });

    await page.goto(baseUrl, { waitUntil: "domcontentloaded", timeout: kWaitMs });
    const id = await openRow(page, spec.rich);
    check("message opens from its row", page.url().endsWith(`#/m/${id}`), page.url());
    const header = await page.$eval(".mv-header", (h) => ({
      from: h.querySelector(".mv-from")?.textContent, to: h.querySelector(".mv-to")?.textContent,
      cc: h.querySelector(".mv-cc")?.textContent, size: h.querySelector(".mv-size")?.textContent,
      tags: [...h.querySelectorAll(".mv-tag")].map((t) => t.textContent),
    }));
    check("header shows addresses, size and tags",
          header.from === "Carol Sender <carol@example.com>" && header.to === "Dave <dave@example.org>" &&
          header.cc === "erin@example.org" && /\d/.test(header.size) && header.tags.join() === "billing", header);

    // Tabs: roles and keyboard.
    const roles = await page.evaluate(() => ({
      list: document.querySelectorAll('#message-pane [role="tablist"]').length,
      tabs: [...document.querySelectorAll('#message-pane [role="tab"]')].map((t) => t.textContent),
      panels: document.querySelectorAll('#message-pane [role="tabpanel"]').length,
      selected: document.querySelector('#message-pane [role="tab"][aria-selected="true"]')?.textContent,
    }));
    check("tabs are a tablist with six tabs, HTML first",
          roles.list === 1 && roles.tabs.join() === "HTML,Text,Source,Headers,Attachments,Analysis" &&
          roles.panels === 6 && roles.selected === "HTML", roles);

    // HTML: the sandboxed frame, the inline image through its part URL, the remote image blocked.
    const frame = await page.waitForSelector("#mv-panel-html iframe", { timeout: kWaitMs });
    const sandbox = await frame.getAttribute("sandbox");
    check("HTML frame is sandboxed without scripts or same-origin",
          sandbox.split(/\s+/).sort().join() === "allow-popups,allow-popups-to-escape-sandbox", sandbox);
    const src = await frame.getAttribute("src");
    check("HTML frame shows the view URL", src === `/view/${id}.html`, src);
    const inlineSeen = async () => seen.some((u) => new RegExp(`/api/v1/message/${id}/part/[0-9.]+$`).test(u));
    for (let i = 0; i < 50 && !(await inlineSeen()); ++i) await page.waitForTimeout(100);
    check("inline cid image loads from its part URL", await inlineSeen(), seen);
    const note = await page.textContent("#mv-panel-html .mv-remote-text");
    check("remote images counted and blocked", note === "1 remote image blocked" && remoteLoads === 0,
          { note, remoteLoads });
    await page.screenshot({ path: path.join(shotDir, "tab-html.png") });
    await page.click("#mv-panel-html .mv-show-images");
    const shown = await frame.getAttribute("src");
    check("Show images reloads with remote=1", shown === `/view/${id}.html?remote=1`, shown);
    for (let i = 0; i < 50 && remoteLoads === 0; ++i) await page.waitForTimeout(100);
    check("remote image loads after Show images", remoteLoads > 0, remoteLoads);
    const widths = {};
    for (const name of ["phone", "tablet", "desktop"]) {
      await page.click(`.mv-width[data-width="${name}"]`);
      widths[name] = Math.round((await frame.boundingBox()).width);
    }
    check("width presets", widths.phone === 375 && widths.tablet === 768 && widths.desktop > 768, widths);

    // Keyboard: ArrowRight from HTML selects Text; End selects Analysis; Home goes back.
    await page.focus("#mv-tab-html");
    await page.keyboard.press("ArrowRight");
    const afterRight = await page.evaluate(() => document.activeElement.id);
    await page.keyboard.press("End");
    const afterEnd = await page.evaluate(() => document.activeElement.id);
    await page.keyboard.press("Home");
    check("arrow keys move between tabs",
          afterRight === "mv-tab-text" && afterEnd === "mv-tab-analysis" &&
          (await page.getAttribute("#mv-tab-html", "aria-selected")) === "true", { afterRight, afterEnd });

    await openTab(page, "text");
    const text = await page.$eval("#mv-panel-text pre", (p) => p.textContent);
    check("Text tab shows the text part", text.includes(`Plain text of ${spec.token}.`), text);
    await page.screenshot({ path: path.join(shotDir, "tab-text.png") });

    await openTab(page, "source");
    await page.waitForSelector("#mv-panel-source .mv-source", { timeout: kWaitMs });
    const source = await page.evaluate(() => ({
      names: [...document.querySelectorAll("#mv-panel-source .mv-hname")].map((s) => s.textContent),
      text: document.querySelector("#mv-panel-source .mv-source").textContent,
      download: document.querySelector("#mv-panel-source .mv-download").getAttribute("href"),
    }));
    check("Source tab colours header names and shows the raw message",
          source.names.includes("Subject:") && source.names.includes("From:") &&
          source.text.includes(`Subject: ${spec.rich}`) && source.text.includes("Content-Type: application/pdf"),
          source.names);
    check("Source tab links the .eml download", source.download === `/api/v1/message/${id}/raw?dl=1`, source.download);
    await page.screenshot({ path: path.join(shotDir, "tab-source.png") });

    await openTab(page, "headers");
    await page.waitForSelector("#mv-panel-headers table", { timeout: kWaitMs });
    const headers = await page.evaluate(() => ({
      rows: Object.fromEntries([...document.querySelectorAll("#mv-panel-headers tbody tr")]
        .map((tr) => [tr.querySelector("th").textContent, tr.querySelector("td").textContent])),
      envelope: Object.fromEntries([...document.querySelectorAll("#mv-panel-headers .mv-envelope dt")]
        .map((dt) => [dt.textContent, dt.nextElementSibling.textContent])),
    }));
    check("Headers tab lists the headers", headers.rows.Subject === spec.rich, headers.rows);
    check("Headers tab shows the envelope",
          headers.envelope["MAIL FROM"] === "carol@example.com" && headers.envelope["RCPT TO"] === "dave@example.org" &&
          headers.envelope["Client IP"].startsWith("127.0.0.1") && headers.envelope.HELO === "client.test" &&
          headers.envelope.TLS === "none", headers.envelope);
    await page.screenshot({ path: path.join(shotDir, "tab-headers.png") });

    await openTab(page, "attachments");
    const parts = await page.evaluate(() => [...document.querySelectorAll("#mv-panel-attachments .mv-part")].map((li) => ({
      name: li.querySelector(".mv-part-name").textContent, meta: li.querySelector(".mv-part-meta").textContent,
      sha: li.querySelector(".mv-part-sha").textContent, href: li.querySelector(".mv-part-download").getAttribute("href"),
      thumb: li.querySelector("img.mv-thumb") !== null,
    })));
    const pdf = parts.find((p) => p.name === spec.pdfName);
    check("Attachments tab lists the PDF with type, size and SHA-256",
          pdf && pdf.meta.startsWith("application/pdf") && pdf.sha === `SHA-256 ${spec.pdfSha256}` && !pdf.thumb, parts);
    check("Attachments tab lists the inline image with a thumbnail",
          parts.some((p) => p.meta.startsWith("image/png") && p.thumb), parts);
    await page.waitForFunction(() => [...document.querySelectorAll("#mv-panel-attachments img.mv-thumb")]
      .every((img) => img.complete && img.naturalWidth > 0), null, { timeout: kWaitMs });
    check("thumbnail image decodes", true);
    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: kWaitMs }),
      page.click(`#mv-panel-attachments .mv-part-download[href="${pdf.href}"]`),
    ]);
    const bytes = await new Promise((resolve, reject) => {
      download.createReadStream().then((stream) => {
        const chunks = [];
        stream.on("data", (c) => chunks.push(c));
        stream.on("end", () => resolve(Buffer.concat(chunks)));
        stream.on("error", reject);
      }, reject);
    });
    const { createHash } = await import("node:crypto");
    const digest = createHash("sha256").update(bytes).digest("hex");
    check("attachment download returns the exact bytes",
          bytes.length === spec.pdfSize && digest === spec.pdfSha256, { size: bytes.length, digest });
    await page.screenshot({ path: path.join(shotDir, "tab-attachments.png") });

    // Analysis: the server runs the headers analyzer in the background; the tab shows its report (at once
    // when it is stored, else live when its "analysis" event arrives). The message has a Message-ID and no
    // Date.
    await openTab(page, "analysis");
    await page.waitForSelector('#mv-panel-analysis .mv-analysis[data-analyzer="headers"]', { timeout: kWaitMs });
    const analysis = await page.$eval('#mv-panel-analysis .mv-analysis[data-analyzer="headers"]', (s) => ({
      title: s.querySelector(".mv-analysis-title").textContent,
      verdict: s.querySelector(".mv-verdict").dataset.verdict,
      verdictText: s.querySelector(".mv-verdict").textContent,
      findings: [...s.querySelectorAll(".mv-finding")].map((li) => ({
        id: li.querySelector(".mv-finding-id")?.textContent, severity: li.querySelector(".mv-severity").dataset.severity,
      })),
    }));
    const ids = analysis.findings.map((f) => f.id);
    check("Analysis tab shows the headers report with date.missing",
          analysis.title === "Header sanity" && analysis.verdict === "fail" && analysis.verdictText.endsWith("Fail") &&
          analysis.findings.some((f) => f.id === "date.missing" && f.severity === "error") &&
          !ids.includes("message_id.missing"), analysis);
    await page.screenshot({ path: path.join(shotDir, "tab-analysis.png") });

    // Mark unread goes to the API.
    await page.click(".mv-unread");
    await page.waitForFunction(() => document.querySelector(".mv-status")?.textContent === "Marked unread.",
                               null, { timeout: kWaitMs });
    const read = await page.evaluate(async (mid) => {
      const r = await fetch("/api/v1/messages?limit=50");
      return (await r.json()).messages.find((m) => m.ID === mid).Read;
    }, id);
    check("Mark unread marks it unread", read === false, read);

    // The hostile message runs nothing and changes nothing outside its frame.
    const hostileId = await openRow(page, spec.hostile);
    const urlBefore = page.url();
    await page.waitForSelector("#mv-panel-html iframe", { timeout: kWaitMs });
    await page.waitForTimeout(kHostileWaitMs);
    const after = await page.evaluate(() => {
      const bar = document.querySelector(".topbar").getBoundingClientRect();
      const hit = document.elementFromPoint(bar.left + bar.width / 2, bar.top + bar.height / 2);
      const tab = document.querySelector("#mv-tab-text").getBoundingClientRect();
      const tabHit = document.elementFromPoint(tab.left + tab.width / 2, tab.top + tab.height / 2);
      return { pwned: typeof window.__pwned, topbarHit: !!hit && !!hit.closest(".topbar"),
               tabHit: !!tabHit && tabHit.id === "mv-tab-text" };
    });
    check("hostile HTML ran no script", after.pwned === "undefined", after);
    check("hostile HTML did not navigate the page", page.url() === urlBefore, { before: urlBefore, now: page.url() });
    check("hostile HTML did not cover the UI", after.topbarHit && after.tabHit, after);
    await page.screenshot({ path: path.join(shotDir, "hostile.png") });
    await page.click("#mv-tab-text", { timeout: kWaitMs });
    check("UI stays clickable beside hostile HTML",
          (await page.getAttribute("#mv-tab-text", "aria-selected")) === "true");

    // Delete closes the pane and removes the message.
    await page.click("#mv-tab-html");
    await page.click(".mv-delete");
    await page.waitForFunction(() => !location.hash.startsWith("#/m/"), null, { timeout: kWaitMs });
    const gone = await page.evaluate(async (mid) => (await fetch(`/api/v1/message/${mid}`)).status, hostileId);
    check("Delete removes the message and closes the pane", gone === 404, gone);

    const own = problems.filter((p) => !p.includes(`/api/v1/message/${hostileId}`));
    check("no script errors or failed requests", own.length === 0, own);
  } finally {
    await browser.close();
  }
}

run(main);
