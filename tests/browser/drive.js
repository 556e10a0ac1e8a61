// drive.js: opens one page in Debian's chromium (chromium-headless-shell, through
// puppeteer-core, which downloads no browser) and reports what a person
// would see of the creditd widget on it, as JSON on stdout.
//
//   node drive.js '{"url": "...", "out": "DIR", "name": "en", "topup": true, "more": true}'
//
// It waits for each element to settle (its `state` attribute), reads the
// text of its shadow DOM as a user would read it (and whether the
// suspension notice, the amount owed and the pay button are on screen),
// takes a screenshot of each element into `out`, and optionally clicks the
// top-up's pay button (recording where the browser is sent, without
// leaving the machine) and "Show more" in the history. "width" narrows the
// window (the page must then not scroll sideways); "me" is merged into
// creditd's GET /v1/me answers, for fields the account does not carry yet;
// "answers" replaces creditd's answers to GET /v1/me/transactions
// ("transactions") and GET /v1/me/usage ("usage_day", "usage_model", by
// group_by), for routes or fields the server does not answer yet. "tabs"
// walks the history's tabs by keyboard (arrows, Home, End) and takes a
// screenshot of its Usage tab. <creditd-referral> is read like the others,
// with its code, what it earns and whether it hid itself. The assertions live in the Python test that
// runs it (tests/integration/test_59_widget_browser.py).
"use strict";
const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium-headless-shell";

async function settled(page, sel) {
  await page.waitForFunction((s) => {
    const e = document.querySelector(s);
    return e && e.hasAttribute("state");
  }, { timeout: 15000 }, sel);
}

async function read(page, sel) {
  return page.evaluate((s) => {
    const e = document.querySelector(s);
    const root = e.shadowRoot;
    const q = (x) => root.querySelector(x);
    return {
      state: e.getAttribute("state"),
      text: root.querySelector(".box").innerText.trim(),
      amount: q(".amount") ? q(".amount").textContent : null,
      low: root.querySelector(".box").classList.contains("low"),
      ariaLabel: root.querySelector(".box").getAttribute("aria-label"),
      alert: q("[role=alert]") ? q("[role=alert]").textContent : null,
      rows: root.querySelectorAll(q("[part=credits]") ? "[part=credits] tbody tr" : "tbody tr").length,
      more: q("button[part=more]") ? !q("button[part=more]").hidden : null,
      firstRow: q("tbody tr") ? q("tbody tr").innerText : null,
      ...extra(root),
      buttons: Array.from(root.querySelectorAll("button")).map((b) => b.textContent),
      pressed: q("button[aria-pressed=true]") ? q("button[aria-pressed=true]").textContent : null,
      alerts: root.querySelectorAll("[role=alert]").length,
      owed: q("[part=owed]") ? q("[part=owed]").textContent : null,
      retry: q("[part=retry]") ? q("[part=retry]").textContent : null,
      pay: q("button[part=pay]") ? q("button[part=pay]").textContent : null,
      // On screen: laid out, not hidden, and inside the window's width.
      visible: Object.fromEntries(["[role=alert]", "[part=owed]", "button[part=pay]"].map((x) => {
        const n = q(x);
        const r = n && n.getBoundingClientRect();
        return [x, !!(n && n.checkVisibility() && r.width > 0 && r.height > 0 && r.right <= window.innerWidth)];
      })),
    };
    // The history's tabs and rows, the usage chart, its tables and the cap.
    function extra(root) {
      const cells = (tr) => Array.from(tr.children).map((c) => c.textContent.trim());
      const all = (x) => Array.from(root.querySelectorAll(x));
      const cap = root.querySelector("[part=cap]");
      const width = (x) => (root.querySelector(x) ? root.querySelector(x).style.width : null);
      return {
        tabs: all("[role=tab]").map((b) => ({ text: b.textContent, selected: b.getAttribute("aria-selected"),
                                              tabindex: b.tabIndex, controls: b.getAttribute("aria-controls") })),
        panels: all("[role=tabpanel]").map((p) => ({ id: p.id, hidden: p.hidden, labelledby: p.getAttribute("aria-labelledby") })),
        tablist: all("[role=tablist]").length,
        credits: all("[part=credits] tbody tr").map(cells),
        sources: all("[part=credits] [part=source]").map((x) => x.textContent),
        descriptions: all("[part=credits] [part=description]").map((x) => x.textContent),
        receipts: all("[part=credits] a[part=receipt]").map((a) => [a.textContent, a.href, a.rel]),
        invoices: all("[part=credits] a[part=invoice], [part=credits] a[part=invoice-pdf]")
          .map((a) => [a.getAttribute("part"), a.textContent, a.href, a.rel]),
        days: all("[part=usage] tbody[part=day]").map((b) => ({ head: cells(b.rows[0]), calls: Array.from(b.rows).slice(1).map(cells) })),
        bars: all("svg[part=chart] rect.bar").map((r) => [r.getAttribute("data-day"), Number(r.getAttribute("height"))]),
        chartHidden: root.querySelector("svg[part=chart]") ? root.querySelector("svg[part=chart]").getAttribute("aria-hidden") : null,
        dayTable: all("table[part=day-table] tbody tr").map(cells),
        dayTableCaption: root.querySelector("table[part=day-table] caption") ? root.querySelector("table[part=day-table] caption").textContent : null,
        models: all("table[part=models] tbody tr").map(cells),
        total: root.querySelector("[part=total]") ? root.querySelector("[part=total]").textContent : null,
        code: root.querySelector("[part=code]") ? root.querySelector("[part=code]").textContent : null,
        earn: root.querySelector("[part=earn]") ? root.querySelector("[part=earn]").textContent : null,
        expiry: root.querySelector("[part=expiry]") ? root.querySelector("[part=expiry]").textContent : null,
        cap: cap ? { text: cap.innerText, label: (cap.querySelector("[role=img]") || cap).getAttribute("aria-label"),
                     spent: width("[part=cap-spent]"), reserved: width("[part=cap-reserved]") } : null,
      };
    }
  }, sel);
}

async function shot(page, sel, file) {
  const e = await page.$(sel);
  const box = e && (await e.boundingBox());   // a hidden element has none, or an empty one
  if (box && box.width > 0 && box.height > 0) await e.screenshot({ path: file });
}

async function main() {
  const opt = JSON.parse(process.argv[2]);
  fs.mkdirSync(opt.out, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: "shell",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  const out = { console: [] };
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: opt.width || 900, height: 900, deviceScaleFactor: 1 });
    page.on("console", (m) => out.console.push(m.type() + ": " + m.text()));
    page.on("pageerror", (e) => out.console.push("pageerror: " + e.message));
    // Checkout lives on the internet: the navigation is recorded and stopped.
    await page.setRequestInterception(true);
    out.navigations = [];
    page.on("request", async (r) => {
      const u = r.url();
      const where = u.startsWith(opt.origin) ? new URL(u) : null;
      const answer = where && opt.answers && r.method() === "GET" && (
        where.pathname.endsWith("/v1/me/transactions") ? opt.answers.transactions :
        where.pathname.endsWith("/v1/me/usage") ? opt.answers["usage_" + (where.searchParams.get("group_by") || "model")] :
        undefined);
      if (answer) {
        out.served = (out.served || []).concat([where.pathname + where.search]);
        r.respond({ status: 200, contentType: "application/json", body: JSON.stringify(answer) });
      } else if (opt.me && where && where.pathname.endsWith("/v1/me") && r.method() === "GET") {
        const real = await fetch(u, { headers: r.headers() });
        const body = Object.assign(await real.json(), opt.me);
        r.respond({ status: real.status, contentType: "application/json", body: JSON.stringify(body) });
      } else if (!u.startsWith(opt.origin)) {
        out.navigations.push(u);
        r.abort();
      } else {
        r.continue();
      }
    });
    await page.goto(opt.url, { waitUntil: "load" });
    for (const id of ["balance", "compact", "topup", "history", "usage", "referral"]) {
      const sel = "#" + id;
      if (!(await page.$(sel))) continue;
      await settled(page, sel);
      if (id === "history" && (await page.$eval(sel, (e) => e.getAttribute("state"))) === "ok") {
        await page.waitForFunction(() => document.querySelector("#history").hasAttribute("rows"), { timeout: 15000 });
      }
      out[id] = await read(page, sel);
      if (id === "referral") {
        out[id].hidden = await page.$eval(sel, (e) => e.hidden);
        out[id].boxShown = await page.$eval(sel, (e) => e.shadowRoot.querySelector(".box").getBoundingClientRect().height > 0);
      }
      await shot(page, sel, path.join(opt.out, opt.name + "-" + id + ".png"));
    }
    await page.screenshot({ path: path.join(opt.out, opt.name + "-page.png"), fullPage: true });
    out.sideways = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    if (opt.more) {
      const pages = [out.history.rows];
      for (let i = 0; i < 5; i++) {
        const more = await page.evaluateHandle(() =>
          document.querySelector("#history").shadowRoot.querySelector("button[part=more]"));
        const visible = await more.evaluate((b) => b && !b.hidden);
        if (!visible) break;
        const before = pages[pages.length - 1];
        await more.focus();
        await page.keyboard.press("Enter");   // by keyboard, as a person without a mouse would
        await page.waitForFunction((n) =>
          Number(document.querySelector("#history").getAttribute("rows")) > n, { timeout: 15000 }, before);
        pages.push(Number(await page.$eval("#history", (e) => e.getAttribute("rows"))));
      }
      out.historyPages = pages;
      out.historyAfter = await read(page, "#history");
      await shot(page, "#history", path.join(opt.out, opt.name + "-history-more.png"));
    }
    if (opt.tabs) {
      // By keyboard: the selected tab takes the focus, the arrows move it.
      const walk = [];
      const state = () => page.$eval("#history", (e) => {
        const r = e.shadowRoot;
        const a = r.activeElement;
        return { tab: e.getAttribute("tab"), focused: a ? a.id : null,
                 selected: Array.from(r.querySelectorAll("[role=tab]")).filter((b) => b.getAttribute("aria-selected") === "true").map((b) => b.id),
                 visible: Array.from(r.querySelectorAll("[role=tabpanel]")).filter((p) => !p.hidden).map((p) => p.id) };
      });
      await page.$eval("#history", (e) => e.shadowRoot.querySelector("[role=tab][aria-selected=true]").focus());
      for (const k of ["ArrowRight", "ArrowRight", "End", "Home", "ArrowLeft"]) {
        await page.keyboard.press(k);
        walk.push(Object.assign({ key: k }, await state()));
      }
      out.tabWalk = walk;
      await page.$eval("#history", (e) => e.shadowRoot.querySelector("#tab-usage").click());
      out.historyUsage = await read(page, "#history");
      await shot(page, "#history", path.join(opt.out, opt.name + "-history-usage.png"));
    }
    if (opt.topup) {
      const pay = await page.evaluateHandle(() =>
        document.querySelector("#topup").shadowRoot.querySelector("button[part=pay]"));
      await pay.click();
      const deadline = Date.now() + 15000;
      while (!out.navigations.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + "\n");
  process.exit(1);
});
