/* console_account.js: the operator's console's page of one account
 * (#/accounts/ID; docs/operations.md, "What the console shows"): its
 * figures, grants, holds in flight, usage by day, model and member as an
 * SVG bar chart (drawn here, no library), journal (who acted in each row),
 * top-ups with their refunds and disputes, referrals, alerts, gateway keys
 * and, for an admin key's session, its actions. Loaded after console.js,
 * whose helpers (window.creditdConsole) it uses: the same rules, no inline
 * script or style, every write the API's own operation with a fresh
 * Idempotency-Key (console.js's call). */
"use strict";
(function (C) {
  const { S, t, el, panel, say, errText, cards, table, call, latest, allPages, admin, enc, form, secret, need, badAmount, refused, failedAt,
          money, micros } = C;
  /* An account: its figures, grants, holds, usage chart, journal, alerts,
   * gateway keys, and (admin) its actions. */
  async function accountView(id) {
    const path = "/v1/accounts/" + enc(id);
    const top = el("div", { id: "acc-top" }), journal = el("div", { id: "journal" });
    let acct = null;
    async function refresh() {
      const r = await call("GET", path);
      if (!r.ok) { top.replaceChildren(refused(r)); return; }
      acct = r.data;
      S.currency = acct.currency || S.currency;
      top.replaceChildren(
        el("p", {}, el("span", { class: "badge " + (acct.status === "active" ? "good" : "bad"), id: "acc-status",
                                 text: acct.status + (acct.status_reason ? " (" + acct.status_reason + ")" : "") })),
        cards(acct, ["balance_micros", "reserved_micros", "available_micros", "month_spent_micros", "day_spent_micros",
                     "monthly_limit_micros", "daily_limit_micros", "overdraft_limit_micros", "low_balance_micros", "plan",
                     "email", "kind", "created_at"], acct.currency),
        panel(t("grants"), table(acct.grants || [], ["id", "source", "remaining_micros", "priority", "expires_at"], { cur: acct.currency, label: t("grants") })));
      await Promise.all([loadJournal(0), holds.load(0)]);
    }
    const holds = paged("holds", path + "/holds", (rows) => table(rows, ["hold_id", "model", "member", "held_micros", "created_at",
      "expires_at", "unresolved"], { cur: acct && acct.currency, label: t("holds") }));
    const cursors = [""];
    let filter = "all", jrows = [];
    const sel = el("select", { id: "journal-filter", onchange: () => { filter = sel.value; drawJournal(); } },
      ["all", "topup", "refund", "dispute", "referral"].map((f) => el("option", { value: f, text: t("f." + f) })));
    const jbox = el("div");
    function drawJournal() {
      const keep = (r) => filter === "all" || (filter === "topup" && r.source === "topup") || (filter === "refund" && r.cause === "refund")
        || (filter === "dispute" && /^dispute/.test(r.cause || "")) || (filter === "referral" && r.source === "referral");
      const rows = jrows.filter(keep).map((r) => Object.assign({ id: r.id, created_at: r.created_at, cause: r.cause, source: r.source,
        amount_micros: r.amount_micros, balance_after_micros: r.balance_after_micros, description: r.description },
        { actor: r.actor },   // who acted: a key's prefix, console:<prefix>, stripe, system
        { model: r.usage ? r.usage.model : null, member: r.usage ? r.usage.member : null }));
      jbox.replaceChildren(table(rows, null, { cur: acct && acct.currency, label: t("journal") }));
    }
    async function loadJournal(i) {
      const r = await call("GET", path + "/transactions?limit=50" + (cursors[i] ? "&cursor=" + enc(cursors[i]) : ""));
      if (!r.ok) { journal.replaceChildren(refused(r)); return; }
      jrows = r.data.data || [];
      drawJournal();
      const pager = el("div", { class: "pager" });
      if (i > 0) pager.append(el("button", { type: "button", class: "ghost", id: "journal-prev", text: t("prev"), onclick: () => loadJournal(i - 1) }));
      if (r.data.has_more && r.data.next_cursor) {
        cursors[i + 1] = r.data.next_cursor;
        pager.append(el("button", { type: "button", class: "ghost", id: "journal-next", text: t("next"), onclick: () => loadJournal(i + 1) }));
      }
      journal.replaceChildren(el("div", { class: "act" }, el("label", { for: "journal-filter", text: t("filter") + " " }), sel,
        el("span", { class: "muted", text: " " + t("f.note") })), jbox, pager);
    }
    await refresh();
    const usage = await usagePanel(path);
    const alerts = el("div", { id: "alerts" }), gw = el("div", { id: "gwkeys" });
    let alertList = [];
    async function loadAlerts() {
      const r = await call("GET", path + "/alerts");
      if (!r.ok) { alerts.replaceChildren(refused(r)); return; }
      alertList = r.data.alerts || [];
      alerts.replaceChildren(table(alertList, ["kind", "pct", "micros", "member", "state", "members_fired"], { cur: acct && acct.currency, label: t("alerts"),
        act: admin() ? (a) => el("button", { type: "button", class: "ghost alert-remove", text: t("remove"), "aria-label": t("remove") + " " + a.kind,
          onclick: async (e) => { const x = await putAlerts(alertList.filter((b) => b !== a)); say(x.ok ? t("done") : errText(x));
            if (!x.ok) failedAt(e.target, x); } }) : null }));
    }
    function putAlerts(list) {
      const body = list.map((a) => { const o = { kind: a.kind }; if (a.pct !== undefined && a.pct !== null) o.pct = a.pct;
        if (a.micros !== undefined && a.micros !== null) o.micros = a.micros; if (a.member) o.member = a.member; return o; });
      return call("PUT", path + "/alerts", { alerts: body }).then((r) => { if (r.ok) loadAlerts(); return r; });
    }
    async function loadGw() {
      const r = await allPages(path + "/gateway_keys");
      gw.replaceChildren(r.ok ? table(r.data.data || [], null, { label: t("gwkeys"), act: (k) => el("button", { type: "button", class: "danger gw-revoke",
        text: t("revoke"), "aria-label": t("revoke") + " " + k.id, onclick: async (e) => {
          const x = await call("DELETE", path + "/gateway_keys/" + enc(k.id)); say(x.ok ? t("done") : errText(x));
          if (x.ok) loadGw(); else failedAt(e.target, x); } }) }) : refused(r));
    }
    await loadAlerts();
    const topups = paged("topups", path + "/topups", (rows) => table(rows.map(topupRow), null, { cur: acct && acct.currency, label: t("topups") }));
    const refs = paged("referrals", path + "/referrals", (rows, data) => [el("p", { id: "referred-by" }, t("referred.by") + " ",
      data.referred_by ? el("a", { href: "#/accounts/" + enc(data.referred_by), text: data.referred_by }) : "—"),
      table(rows, null, { cur: acct && acct.currency, label: t("referrals"), link: (k, r) => (k === "account" ? "#/accounts/" + enc(r.account) : null) })]);
    await Promise.all([topups.load(0), refs.load(0)]);
    const out = [el("h1", { text: t("acc.title", id) }), top, panel(t("holds"), holds.box), usage, panel(t("journal"), journal),
      panel(t("topups"), el("p", { class: "muted", text: t("topups.note") }), topups.box), panel(t("referrals"), refs.box),
      panel(t("alerts"), alerts)];
    if (admin()) {
      await loadGw();
      out.push(panel(t("gwkeys"), gw), panel(t("actions"), ...accountActions(path, () => acct, { refresh, putAlerts, loadGw, alertList: () => alertList })));
    }
    return out;
  }

  function accountActions(path, acct, h) {
    const act = (r) => { if (r.ok) h.refresh(); return r; };
    const status = el("div", { id: "f-status" });
    const drawStatus = () => {
      const susp = acct() && acct().status === "suspended";
      status.replaceChildren(el("button", { type: "button", id: "f-status-submit", class: susp ? null : "danger", text: t(susp ? "resume" : "suspend"),
        onclick: async (e) => { const r = await call("PATCH", path, { status: susp ? "active" : "suspended" }); say(r.ok ? t("done") : errText(r));
          if (r.ok) { await h.refresh(); drawStatus(); } else failedAt(e.target, r); } }));
    };
    drawStatus();
    const capFields = ["monthly_limit_micros", "daily_limit_micros", "overdraft_limit_micros", "low_balance_micros"];
    return [
      el("h3", { text: t("grant") }),
      form("f-grant", [{ name: "amount", label: t("amount"), type: "money", required: true },
        { name: "source", label: t("source"), type: "select", options: [["adjustment", "adjustment"], ["promo", "promo"], ["signup_bonus", "signup_bonus"]] },
        { name: "expires_at", label: t("expires"), type: "datetime" }, { name: "description", label: t("description") }], t("grant"), async (v) => {
        const m = micros(v.amount);
        if (m === null || m <= 0) return badAmount(t("amount"), "amount", v.amount === "" ? "bad.required" : m === null ? null : "bad.positive");
        return act(await call("POST", path + "/grants", { amount_micros: m, source: v.source, expires_at: need(v, "expires_at"), description: need(v, "description") }));
      }),
      el("h3", { text: t("debit") }),
      form("f-debit", [{ name: "amount", label: t("amount"), type: "money", required: true }, { name: "reason", label: t("reason"), required: true }],
        t("debit"), async (v) => {
          const m = micros(v.amount);
          if (m === null || m <= 0) return badAmount(t("amount"), "amount", v.amount === "" ? "bad.required" : m === null ? null : "bad.positive");
          return act(await call("POST", path + "/debits", { amount_micros: m, reason: v.reason }));
        }),
      el("h3", { text: t("status.label") }), status,
      el("h3", { text: t("caps") }), el("p", { class: "muted", text: t("caps.help") }),
      form("f-caps", capFields.map((k) => ({ name: k, label: t(k), type: "money" })), t("save"), async (v) => {
        const body = {};
        for (const k of capFields) {
          if (v[k] === "") continue;
          if (/^(none|aucune?)$/i.test(v[k])) { body[k] = k === "overdraft_limit_micros" ? 0 : null; continue; }
          if ((body[k] = micros(v[k])) === null) return badAmount(t(k), k);
        }
        return act(await call("PATCH", path, body));
      }),
      el("h3", { text: t("alert.add") }),
      form("f-alert", [{ name: "kind", label: t("kind"), type: "select", options: ["balance_below", "monthly_spend_pct", "daily_spend_pct",
        "member_cap_pct", "plan_credits_used_pct"].map((k) => [k, k]) }, { name: "threshold", label: t("threshold"), required: true },
        { name: "member", label: t("member") }], t("alert.add"), async (v) => {
        const a = { kind: v.kind };
        if (v.kind === "balance_below") { if ((a.micros = micros(v.threshold)) === null) return badAmount(t("threshold"), "threshold"); } else a.pct = Number(v.threshold);
        if (v.member) a.member = v.member;
        return h.putAlerts(h.alertList().concat([a]));
      }),
      el("h3", { text: t("mint") }),
      form("f-gwkey", [{ name: "name", label: t("name") }, { name: "member", label: t("member") }, { name: "models", label: t("models.in") },
        { name: "expires_at", label: t("expires"), type: "datetime" }], t("mint"), async (v) => {
        const body = {};
        for (const k of ["name", "member", "expires_at"]) if (v[k]) body[k] = v[k];
        if (v.models) body.models = v.models.split(",").map((s) => s.trim()).filter(Boolean);
        const r = await call("POST", path + "/gateway_keys", body);
        if (r.ok) { h.loadGw(); return { ok: true, node: secret(r.data.key) }; }
        return r;
      }),
    ];
  }

  /* Usage by day, model or member: a bar chart of the cost (SVG drawn
   * here, no library) and the same figures as a table. */
  async function usagePanel(path) {
    const box = el("div", { id: "usage" });
    const tabs = el("div", { class: "tabs", role: "group", "aria-label": t("usage") });
    const ask = latest();	// the last grouping asked for is the one shown, whatever answers last
    async function load(by) {
      for (const b of tabs.children) b.setAttribute("aria-pressed", String(b.dataset.by === by));
      const r = await ask("GET", path + "/usage?group_by=" + by);
      if (r === null) return;
      if (!r.ok) { box.replaceChildren(refused(r)); return; }
      const rows = r.data.data || [];
      box.replaceChildren(el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": t("usagechart", t("by." + by).toLowerCase()) },
        chart(rows, by, r.data.currency)), table(rows.map((x) => ({ [by]: x[by], requests: x.requests,
        input_tokens: x.input_tokens, output_tokens: x.output_tokens, cost_micros: x.cost_micros })), null, { cur: r.data.currency, label: t("usage") + " · " + t("by." + by) }));
    }
    for (const by of ["day", "model", "member"]) {
      tabs.append(el("button", { type: "button", "data-by": by, id: "usage-" + by, "aria-pressed": "false", text: t("by." + by), onclick: () => load(by) }));
    }
    await load("day");
    return panel(t("usage"), tabs, box);
  }
  /* A bar chart of rows' cost_micros by their `by` (id and label: the
   * usage chart's unless given; the overview draws its own with them). */
  function chart(rows, by, cur, id, label) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = (tag, a) => { const n = document.createElementNS(NS, tag); for (const k in a) n.setAttribute(k, a[k]); return n; };
    if (!rows.length) return el("p", { class: "empty", text: t("none") });
    const W = 640, rowH = 22, pad = 150, H = rows.length * rowH + 8;
    const max = rows.reduce((m, x) => (Number(x.cost_micros) > m ? Number(x.cost_micros) : m), 0) || 1;
    const g = svg("svg", { viewBox: "0 0 " + W + " " + H, class: "chart", role: "img", id: id || "usage-chart",
                           "aria-label": label || t("usagechart", t("by." + by).toLowerCase()) });
    rows.forEach((x, i) => {
      const y = 4 + i * rowH, w = Math.max(1, Math.round((W - pad - 110) * Number(x.cost_micros) / max));
      const lbl = svg("text", { x: pad - 6, y: y + 14, "text-anchor": "end", class: "lbl" });
      lbl.textContent = String(x[by] === null || x[by] === undefined ? "—" : x[by]).slice(0, 22);
      const bar = svg("rect", { x: pad, y: y + 3, width: w, height: rowH - 8, class: "bar", rx: 2 });
      const v = svg("text", { x: pad + w + 6, y: y + 14 });
      v.textContent = money(x.cost_micros, cur);
      g.append(lbl, bar, v);
    });
    g.append(svg("line", { x1: pad, y1: 0, x2: pad, y2: H, class: "axis" }));
    return g;
  }

  /* A list of the account's, a page at a time (GET …/holds, …/topups,
   * …/referrals): its box, and load(i) for page i (0: the first). */
  function paged(name, url, draw) {
    const box = el("div", { id: name }), cursors = [""];
    async function load(i) {
      const r = await call("GET", url + "?limit=20" + (cursors[i] ? "&cursor=" + enc(cursors[i]) : ""));
      if (!r.ok) { box.replaceChildren(refused(r)); return; }
      const pager = el("div", { class: "pager" });
      if (i > 0) pager.append(el("button", { type: "button", class: "ghost", id: name + "-prev", text: t("prev"), onclick: () => load(i - 1) }));
      if (r.data.has_more && r.data.next_cursor) {
        cursors[i + 1] = r.data.next_cursor;
        pager.append(el("button", { type: "button", class: "ghost", id: name + "-next", text: t("next"), onclick: () => load(i + 1) }));
      }
      box.replaceChildren(...[].concat(draw(r.data.data || [], r.data)), pager);
    }
    return { box, load };
  }
  /* A top-up as a row: its amounts in its own currency (cents), what it
   * credited and what refunds and disputes took back. */
  function topupRow(x) {
    const cents = (v) => money(BigInt(v) * 10000n, x.currency.toUpperCase());
    const disputes = x.disputes.map((d) => d.state + " " + cents(d.amount_cents)).join(", ");
    return { id: x.id, created_at: x.created_at, status: x.status, paid: cents(x.amount_cents), credited_micros: x.credited_micros,
      refunded: x.refunded_cents ? cents(x.refunded_cents) : "", refunded_micros: x.refunded_micros, disputes };
  }
  Object.assign(C.T.en, { topups: "Top-ups", "topups.note": "Stripe payments, with their refunds and disputes.",
    referrals: "Referrals", "referred.by": "Referred by:", paid: "Paid", refunded: "Refunded", disputes: "Disputes",
    hold_id: "Hold", held_micros: "Held", unresolved: "Unresolved", refunded_micros: "Refunded (credit)",
    credited_micros: "Credited", rewarded_at: "Rewarded", reward_micros: "Reward", taken_back_at: "Taken back" });
  Object.assign(C.T.fr, { topups: "Recharges", "topups.note": "Paiements Stripe, avec leurs remboursements et litiges.",
    referrals: "Parrainages", "referred.by": "Parrainé par :", paid: "Payé", refunded: "Remboursé", disputes: "Litiges",
    hold_id: "Réservation", held_micros: "Réservé", unresolved: "Non résolue", refunded_micros: "Remboursé (crédit)",
    credited_micros: "Crédité", rewarded_at: "Récompensé le", reward_micros: "Récompense", taken_back_at: "Repris le" });
  C.accountView = accountView;
  C.chart = chart;
})(window.creditdConsole);
