// End-to-end test of the web UI's list features in real headless Chromium (same launch as ui.mjs). Run by
// tests/integration/test_web_list.py, which owns the server, sends the mail and checks the server state:
//
//   node list.mjs <base-url> <token> <screenshot-dir> <npm-dir>
//
// Protocol: stdout lines {"check": name, "ok": true}, {"ask": name, ...} (the driver checks the server and
// answers one JSON line on stdin, {"ok": true, ...} or {"ok": false, "why": ...}), {"error": message}
// before a non-zero exit. Every wait is bounded.
import path from "node:path";
import { ask, check, kChromium, kChromiumArgs, kWaitMs, playwright, run } from "./common.mjs";

const [baseUrl, token, shotDir, npmDir] = process.argv.slice(2);
if (!baseUrl || !token || !shotDir || !npmDir) {
  console.log(JSON.stringify({ error: "usage: list.mjs <base-url> <token> <screenshot-dir> <npm-dir>" }));
  process.exit(2);
}
const { chromium } = playwright(npmDir);


const rowCount = (page) => page.$$eval("#message-rows tr", (rows) => rows.length);
const rowIds = (page) => page.$$eval("#message-rows tr", (rows) => rows.map((r) => r.dataset.id));
const waitRows = (page, n) =>
  page.waitForFunction((k) => document.querySelectorAll("#message-rows tr").length === k, n, { timeout: kWaitMs });

async function main() {
  const browser = await chromium.launch({ executablePath: kChromium, headless: true, args: kChromiumArgs });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
    });

    await page.goto(baseUrl, { waitUntil: "domcontentloaded", timeout: kWaitMs });
    await page.waitForSelector('#live[data-state="live"]', { timeout: kWaitMs });
    await waitRows(page, 50);
    check("first page has 50 rows", (await rowCount(page)) === 50);

    await page.$eval("#more", (e) => e.scrollIntoView());
    await waitRows(page, 71);
    check("scrolling loads the older messages", (await rowCount(page)) === 71);
    const subjects = await page.$$eval("#message-rows .col-subject", (c) => c.map((x) => x.textContent));
    check("oldest message reached by paging", subjects[70] === `Msg 00 ${token}`, subjects.slice(-3));

    await page.waitForFunction(() => document.title.startsWith("(71) "), null, { timeout: kWaitMs });
    check("title has the unread count", true);
    const icon = await page.$eval("#favicon", (l) => l.href);
    check("favicon shows the count", icon.startsWith("data:image/png"), icon.slice(0, 30));

    // Search: an operator narrows the list; the help popover opens and Escape closes it.
    await page.fill("#search", "from:carol");
    await waitRows(page, 1);
    const found = await page.$eval("#message-rows .col-subject", (c) => c.textContent);
    check("operator search narrows the list", found === `Invoice ${token}`, found);
    await page.click("#search-help-button");
    const help = await page.evaluate(() => ({
      expanded: document.getElementById("search-help-button").getAttribute("aria-expanded"),
      hidden: document.getElementById("search-help").hidden,
      text: document.getElementById("search-help").textContent,
    }));
    check("help popover opens", help.expanded === "true" && !help.hidden && help.text.includes("has:attachment"), help);
    await page.screenshot({ path: path.join(shotDir, "search-help.png") });
    await page.keyboard.press("Escape");
    check("Escape closes the help",
          await page.$eval("#search-help", (e) => e.hidden) &&
          (await page.getAttribute("#search-help-button", "aria-expanded")) === "false");
    await page.fill("#search", "");
    await waitRows(page, 50);
    check("clearing the search returns to the list", (await rowCount(page)) === 50);

    // Bulk mark read, then bulk delete.
    let ids = await rowIds(page);
    for (const id of ids.slice(0, 3)) await page.click(`#message-rows tr[data-id="${id}"] .col-check input`);
    check("selection counted", (await page.textContent("#selection-count")) === "3 selected");
    await page.click("#bulk-read");
    await page.waitForFunction(() => document.querySelectorAll("#message-rows tr.unread").length === 47, null,
                               { timeout: kWaitMs });
    await ask("marked read", { ids: ids.slice(0, 3) });
    await page.click("#bulk-delete");
    await waitRows(page, 47);
    await ask("deleted", { ids: ids.slice(0, 3) });

    // Keyboard: j j k j Enter opens the second row; Delete deletes the current one.
    ids = await rowIds(page);
    await page.click("#counts");
    for (const key of ["j", "j", "k", "j"]) await page.keyboard.press(key);
    await page.keyboard.press("Enter");
    await page.waitForFunction((id) => location.hash === `#/m/${id}`, ids[1], { timeout: kWaitMs });
    check("j/k/Enter opens the right message", true);
    await page.screenshot({ path: path.join(shotDir, "message-open.png") });
    await page.evaluate(() => {
      location.hash = "";
      document.activeElement && document.activeElement.blur();
    });
    await page.click("#counts");
    await page.keyboard.press("j");  // the cursor is still on the second row: j moves it to the third
    await page.keyboard.press("Delete");
    await waitRows(page, 46);
    await ask("deleted", { ids: [ids[2]] });
    await page.keyboard.press("?");
    check("? shows the shortcuts", await page.$eval("#shortcuts-dialog", (d) => d.open));
    await page.keyboard.press("Escape");
    check("Escape closes the shortcuts", !(await page.$eval("#shortcuts-dialog", (d) => d.open)));

    // Settings: the real credentials and a snippet holding them.
    const creds = await ask("credentials", {});
    await page.click("#settings-button");
    await page.waitForSelector("#settings-dialog .cred-password", { timeout: kWaitMs });
    const shown = await page.evaluate(() => ({
      user: document.querySelector("#settings-dialog .cred-username").textContent,
      password: document.querySelector("#settings-dialog .cred-password").textContent,
      port: document.querySelector("#settings-dialog .cred-port").textContent,
    }));
    check("settings show the SMTP credentials",
          shown.user === creds.Username && shown.password === creds.Password && shown.port === String(creds.Port),
          shown);
    await page.selectOption("#snippet-picker", { label: "swaks" });
    const snippet = await page.textContent("#snippet");
    check("snippet carries the credentials",
          snippet.includes(creds.Username) && snippet.includes(creds.Password) && snippet.includes(String(creds.Port)),
          snippet);
    check("default inbox cannot be deleted", (await page.$("#delete-inbox")) === null);
    await page.screenshot({ path: path.join(shotDir, "settings.png"), fullPage: true });

    // Create an inbox through the UI, then delete it.
    const name = `ui-${token.slice(-8)}`;
    await page.fill('#settings-dialog input[name="Name"]', name);
    await Promise.all([page.waitForURL(/\/inboxes\/[^/]+\/$/, { timeout: kWaitMs }),
                       page.click('#settings-dialog .create-inbox button[type="submit"]')]);
    const created = await ask("inbox created", { name });
    check("page moved to the new inbox", new URL(page.url()).pathname === `/inboxes/${created.slug}/`, page.url());
    await page.waitForSelector('#live[data-state="live"]', { timeout: kWaitMs });
    await page.click("#settings-button");
    await page.waitForSelector("#delete-inbox", { timeout: kWaitMs });
    await page.click("#delete-inbox");
    await page.waitForSelector("#confirm-dialog[open]", { timeout: kWaitMs });
    await Promise.all([page.waitForURL((u) => u.pathname === "/", { timeout: kWaitMs }), page.click("#confirm-ok")]);
    await ask("inbox deleted", { slug: created.slug });

    // Switching inbox through the picker shows that inbox's mail.
    await page.waitForFunction(() => [...document.querySelectorAll("#inbox-picker option")].some((o) => o.value === "other"),
                               null, { timeout: kWaitMs });
    await Promise.all([page.waitForURL((u) => u.pathname === "/inboxes/other/", { timeout: kWaitMs }),
                       page.selectOption("#inbox-picker", "other")]);
    await waitRows(page, 1);
    const other = await page.$eval("#message-rows .col-subject", (c) => c.textContent);
    check("picker switches to the other inbox's mail", other === `Other ${token}`, other);

    // Phone width: no horizontal scrollbar.
    const phone = await browser.newContext({ viewport: { width: 360, height: 740 } });
    const small = await phone.newPage();
    small.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    await small.goto(baseUrl, { waitUntil: "domcontentloaded", timeout: kWaitMs });
    await waitRows(small, 50);  // 67 left: the first page
    const widths = await small.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
    }));
    check("no horizontal scrollbar at 360 px", widths.scroll <= widths.client, widths);
    await small.screenshot({ path: path.join(shotDir, "list-360.png") });
    await small.click("#settings-button");
    await small.waitForSelector("#settings-dialog .cred-password", { timeout: kWaitMs });
    const dialogWidth = await small.$eval("#settings-dialog", (d) => d.getBoundingClientRect().width);
    check("settings fit at 360 px", dialogWidth <= 360, dialogWidth);
    await small.screenshot({ path: path.join(shotDir, "settings-360.png") });

    check("no script or console errors", problems.length === 0, problems);
  } finally {
    await browser.close();
  }
}

run(main);
