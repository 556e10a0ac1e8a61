// mail_shot.js: opens an alert mail's HTML part (a file) in Debian's
// chromium (headless, through puppeteer-core) as a mail reader would show
// it, with scripts off, and reports what a person reads of it as JSON on
// stdout: the text, the links, the page's language; and takes a screenshot
// into `out`.
//
//   node mail_shot.js '{"file": "/path/mail.html", "out": "DIR", "name": "mail-en"}'
//
// The assertions live in tests/integration/test_88_mail.py.
"use strict";
const path = require("path");
const puppeteer = require("puppeteer-core");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium-headless-shell";

(async () => {
  const spec = JSON.parse(process.argv[2]);
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: "shell",
                                           args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage();
    await page.setJavaScriptEnabled(false);
    const requests = [];
    await page.setRequestInterception(true);
    page.on("request", (r) => {
      requests.push(r.url());
      if (r.url().startsWith("file:")) r.continue(); else r.abort();
    });
    await page.setViewport({ width: 640, height: 480 });
    await page.goto("file://" + spec.file, { waitUntil: "load" });
    const seen = await page.evaluate(() => ({
      text: document.body.innerText,
      title: document.title,
      lang: document.documentElement.lang,
      links: Array.from(document.querySelectorAll("a")).map((a) => [a.textContent, a.href]),
      scripts: document.querySelectorAll("script").length,
      rows: Array.from(document.querySelectorAll("tr")).map((tr) =>
        Array.from(tr.children).map((c) => c.textContent)),
    }));
    await page.screenshot({ path: path.join(spec.out, spec.name + ".png"), fullPage: true });
    seen.requests = requests;
    process.stdout.write(JSON.stringify(seen));
  } finally {
    await browser.close();
  }
})().catch((e) => {
  process.stderr.write(String(e && e.stack || e));
  process.exit(1);
});
