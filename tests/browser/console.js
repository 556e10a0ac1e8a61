// console.js: drives the operator's console ({base}/console/) in Debian's
// chromium (headless, through puppeteer-core) through a list of steps, and
// reports what a person saw as JSON on stdout.
//
//   node console.js '{"url": ".../console/", "out": "DIR", "width": 1280, "dark": false,
//                     "lang": "en-US", "steps": [...]}'
//
// Steps, run in order (the first failing one stops the run and is named in
// "error"):
//   {"goto": URL}                      open a page (the console or another)
//   {"reload": true}                   load the page again and wait for its view
//   {"signin": KEY}                    type the key (with "paste": true, pasted), Tab
//                                      to "Sign in", Enter; wait for a view
//   {"hash": "#/keys"}                 go to a view and wait until it is shown
//   {"fill": SEL, "value": V}          type into a field (cleared first); with
//                                      "paste": true set at once, as pasted
//   {"select": SEL, "value": V}        pick an option
//   {"check": SEL}                     tick a box (by keyboard: focus, Space)
//   {"tab_to": SEL, "press": "Enter"}  press Tab until SEL has the focus (at most
//                                      "max" times), then the key: an action
//                                      reached and done by keyboard alone
//   {"wait": SEL, "text": T}           wait until SEL is shown (and holds T)
//   {"wait_ready": true}               wait until the view is shown again
//   {"read": NAME, "sel": SEL}         the text of each element SEL matches
//   {"count": NAME, "sel": SEL}        how many SEL match and are shown
//   {"eval": NAME, "js": JS}           the value of an expression in the page
//   {"shot": NAME}                     a full-page screenshot NAME.png in out
//   {"axe": NAME}                      axe-core's serious and critical violations
//   {"until": JS}                      wait until JS is true in the page and no request
//                                      of the page is in flight (an answer shown)
//   {"sh": CMD, "env": {VAR: READ}}    run a shell command (the stack's database
//                                      frozen or a session's row deleted), with
//                                      VAR set to an earlier read's value
// Besides "reads", the report has the page's console errors, every
// Content-Security-Policy violation, the requests the page sent (method
// and path), and for each write (any method but GET and HEAD) whether it
// carried an Idempotency-Key and an X-CSRF-Token ("writes"). The assertions live in tests/integration/test_95_console_browser.py.
"use strict";
const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium-headless-shell";
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

async function ready(page) {
  await page.waitForFunction(() => {
    const m = document.getElementById("main");
    /* ready, and for the location shown now: a link's hash change
     * routes a moment after its Enter (the sign-in view has no route) */
    return m && m.dataset.state === "ready" && (m.dataset.view === "signin" || m.dataset.route === location.hash);
  }, { timeout: 20000 });
}

async function shown(page, sel, text) {
  await page.waitForFunction((s, t) => Array.from(document.querySelectorAll(s)).some((n) =>
    n.checkVisibility() && (!t || n.innerText.includes(t))), { timeout: 20000 }, sel, text || "");
}

async function tabTo(page, sel, max) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), sel)) return i + 1;
  }
  throw new Error("Tab never reached " + sel + " in " + max + " presses");
}

/* Into the field sel, cleared first: value typed key by key, or with
 * paste set at once, as pasted (a long text typed took seconds of CPU). */
async function put(page, sel, value, paste) {
  await page.focus(sel);
  await page.$eval(sel, (e) => { e.value = ""; });
  if (paste) await page.$eval(sel, (e, v) => { e.value = v; e.dispatchEvent(new Event("input", { bubbles: true })); }, value);
  else await page.keyboard.type(value);
}

async function step(page, s, spec, out) {
  if (s.goto) {
    await page.goto(s.goto, { waitUntil: "load" });
  } else if (s.reload) {
    await page.reload({ waitUntil: "load" });
    await ready(page);
  } else if (s.signin !== undefined) {
    await page.goto(spec.url, { waitUntil: "load" });
    await shown(page, "#signin-key");
    await put(page, "#signin-key", s.signin, s.paste);
    await tabTo(page, "#f-signin-submit", 5);
    await page.keyboard.press("Enter");
    if (s.expect_fail) await shown(page, "#signin-msg.error"); else await page.waitForSelector("main[data-view]:not([data-view=signin])[data-state=ready]", { timeout: 20000 });
  } else if (s.hash) {
    await page.evaluate((h) => { document.getElementById("main").dataset.state = "loading"; location.hash = h; }, s.hash);
    await ready(page);
  } else if (s.fill) {
    await put(page, s.fill, String(s.value), s.paste);
  } else if (s.select) {
    await page.select(s.select, s.value);
  } else if (s.check) {
    await page.focus(s.check);
    await page.keyboard.press("Space");
  } else if (s.tab_to) {
    out.tabs[s.tab_to] = await tabTo(page, s.tab_to, s.max || 250);
    if (s.press) await page.keyboard.press(s.press);
  } else if (s.wait) {
    await shown(page, s.wait, s.text);
  } else if (s.wait_ready) {
    await ready(page);
  } else if (s.read) {
    out.reads[s.read] = await page.$$eval(s.sel, (ns) => ns.map((n) => n.innerText.trim()));
  } else if (s.count) {
    out.reads[s.count] = await page.$$eval(s.sel, (ns) => ns.filter((n) => n.checkVisibility()).length);
  } else if (s.eval) {
    out.reads[s.eval] = await page.evaluate("(async () => (" + s.js + "))()");
  } else if (s.shot) {
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    const file = path.join(spec.out, s.shot + ".png");
    await page.screenshot({ path: file, fullPage: true });
    out.shots.push(file);
  } else if (s.axe) {
    if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE);
    const res = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ["violations"] });
      return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
    });
    out.axe[s.axe] = res;
  } else if (s.until) {
    await page.waitForFunction(s.until, { timeout: s.timeout || 20000, polling: 50 });
    for (let i = 0; i < 400 && out.inflight > 0; i++) await new Promise((r) => setTimeout(r, 50));
    await page.waitForFunction(s.until, { timeout: s.timeout || 20000, polling: 50 });
  } else if (s.sh) {
    const env = Object.assign({}, process.env);
    for (const [k, v] of Object.entries(s.env || {})) env[k] = String(out.reads[v]);
    require("child_process").execSync(s.sh, { env, stdio: "ignore", timeout: 60000 });
  } else if (s.sleep) {
    await new Promise((r) => setTimeout(r, s.sleep));
  } else {
    throw new Error("unknown step " + JSON.stringify(s));
  }
}

(async () => {
  const spec = JSON.parse(process.argv[2]);
  fs.mkdirSync(spec.out, { recursive: true });
  const lang = spec.lang || "en-US";
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: "shell",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--lang=" + lang] });
  const out = { reads: {}, console: [], csp: [], axe: {}, shots: [], tabs: {}, requests: [], answers: [], writes: [], error: null, at: null, inflight: 0 };
  let page = null;
  const out_ = new Set(), sent = new WeakMap();	/* the requests out, and when each was sent */
  try {
    const context = browser.defaultBrowserContext();
    await context.overridePermissions(new URL(spec.url).origin, ["clipboard-read", "clipboard-write"]);
    page = await browser.newPage();
    await page.setViewport({ width: spec.width || 1280, height: spec.height || 900 });
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: spec.dark ? "dark" : "light" }]);
    await page.setExtraHTTPHeaders({ "Accept-Language": lang });
    await page.evaluateOnNewDocument((l) => {
      Object.defineProperty(navigator, "language", { get: () => l });
      document.addEventListener("securitypolicyviolation", (e) => {
        (window.__csp = window.__csp || []).push(e.violatedDirective + " " + e.blockedURI);
      });
    }, lang);
    page.on("console", (m) => { if (m.type() === "error") out.console.push("error: " + m.text()); });
    page.on("pageerror", (e) => out.console.push("pageerror: " + e.message));
    /* The requests out (a Set: an answer's events may not all come). */
    const done = (r) => { out_.delete(r); out.inflight = out_.size; };
    page.on("response", (r) => {
      done(r.request());
      const u = new URL(r.url());
      const ms = Date.now() - (sent.get(r.request()) || Date.now());
      out.answers.push(r.status() + " " + r.request().method() + " " + u.pathname + u.search + " " + ms + " ms");
    });
    page.on("requestfinished", done);
    page.on("requestfailed", done);
    page.on("request", (r) => {
      out_.add(r); out.inflight = out_.size; sent.set(r, Date.now());
      const u = new URL(r.url());
      out.requests.push(r.method() + " " + u.host + u.pathname + u.search);
      if (r.method() !== "GET" && r.method() !== "HEAD") {
        const h = r.headers();
        out.writes.push({ method: r.method(), path: u.pathname, idem: !!h["idempotency-key"], csrf: !!h["x-csrf-token"] });
      }
    });
    for (let i = 0; i < spec.steps.length; i++) {
      out.at = i;
      await step(page, spec.steps[i], spec, out);
      const csp = await page.evaluate(() => window.__csp || []).catch(() => []);
      for (const c of csp) if (!out.csp.includes(c)) out.csp.push(c);
    }
    out.at = null;
  } catch (e) {
    const s = Object.assign({}, (JSON.parse(process.argv[2]).steps || [])[out.at]);
    if (s.signin) s.signin = s.signin.slice(0, 8) + "…";   // a key is not written out
    out.error = "step " + out.at + " " + JSON.stringify(s) + ": " + e.message;
    /* What the page showed then, for the failure's message: the view,
     * the focus, the main's text, the last answers; and a screenshot. */
    if (page) {
      out.failed_page = await page.evaluate(() => {
        const m = document.getElementById("main"), a = document.activeElement;
        return { view: m && m.dataset.view, route: m && m.dataset.route, state: m && m.dataset.state, hash: location.hash,
                 focus: a ? a.tagName + (a.id ? "#" + a.id : "") : null, text: m ? m.innerText.slice(0, 600) : null };
      }).catch((x) => String(x));
      out.unanswered = Array.from(out_, (r) => r.method() + " " + new URL(r.url()).pathname + " " +
        (Date.now() - (sent.get(r) || Date.now())) + " ms");
      await page.screenshot({ path: path.join(spec.out, "failed-step-" + out.at + ".png"), fullPage: true }).catch(() => {});
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out));
})();
