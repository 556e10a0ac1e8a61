/* creditd-widget.js: a user's balance, top-up, history, usage and referral
 * code, for any page.
 *
 *   <script src="https://billing.example.com/credits/widget/creditd-widget.js" defer></script>
 *   <creditd-balance token="cdw1...."></creditd-balance>
 *   <creditd-topup token="cdw1...."></creditd-topup>
 *   <creditd-history token="cdw1...." page-size="10"></creditd-history>
 *   <creditd-usage token="cdw1...."></creditd-usage>
 *   <creditd-referral token="cdw1...." link="https://app.example/signup?ref={code}"></creditd-referral>
 *
 * Attributes: token (a browser token the app's server minted with
 * POST /v1/accounts/{id}/browser_tokens), base-url (where creditd is
 * mounted; by default where this script came from), locale ("en", "fr").
 * <creditd-balance variant="compact|full">. A suspended account shows
 * why (an alert) and, with a negative balance, what it owes; the top-up
 * then offers to pay that. Theme with CSS custom properties on the
 * elements: --creditd-font, --creditd-color, --creditd-bg,
 * --creditd-border, --creditd-accent, --creditd-accent-text, --creditd-low,
 * --creditd-alert-bg, --creditd-radius, --creditd-tag-bg, --creditd-day-bg,
 * --creditd-held. <creditd-history tab="credits|usage"> picks the first
 * tab (a member's token opens on Usage). <creditd-referral> shows the
 * account's referral code (in link, when given, as {code}) with a copy
 * button and what a referral earns; it hides itself when the deployment
 * rewards no referrer or the token names a member. No framework, no build
 * step. */
(function () {
  "use strict";
  if (!window.customElements || window.customElements.get("creditd-balance")) return;

  var SCRIPT = document.currentScript && document.currentScript.src;
  var DEFAULT_BASE = SCRIPT ? SCRIPT.replace(/\/widget\/creditd-widget\.js(\?.*)?$/, "") : "";

  var TEXT = {
    en: {
      balance: "Credit balance", available: "Available", owing: "Balance", reserved: "Reserved for running requests",
      low: "Your balance is low", period: "Plan period ends", loading: "Loading…",
      expired: "Your session has expired. Reload the page to see your credits.",
      unavailable: "Credits are unavailable right now. Please try again in a moment.",
      topup: "Top up", topupTitle: "Add credits", amount: "Amount", other: "Other amount",
      pay: "Continue to payment", paying: "Opening the payment page…",
      bounds: "Choose an amount from {min} to {max}.",
      history: "Credit history", date: "Date", what: "Description", change: "Amount", after: "Balance after",
      more: "Show more", none: "No transactions yet.", end: "That is all.",
      suspended: "Your account is suspended.", owed: "Amount owed", payOwed: "Pay what is owed",
      reasons: { payment_failed: "Your last payment failed.", dispute: "One of your payments is disputed.",
                 manual: "The service has suspended it. Contact support to restore it." },
      restore: "Pay what is owed to use your account again.", retry: "We will try your card again on {date}.",
      causes: { grant: "Credit", usage: "Usage", expiry: "Expired", refund: "Refund", adjustment: "Adjustment",
                dispute: "Payment disputed", dispute_won: "Dispute won" },
      sources: { signup_bonus: "Signup bonus", topup: "Top-up", promo: "Promo code", plan: "Plan credits", referral: "Referral",
                 payment: "Payment", refund: "Refund", adjustment: "Adjustment", debt: "Debt", forced: "Usage" },
      tabs: "History", credits: "Credits", usage: "Usage", receipt: "Receipt", invoice: "Invoice", invoicePdf: "PDF", model: "Model", time: "Time",
      tokensIn: "Tokens in", tokensOut: "Tokens out", cost: "Cost", dayTotal: "Total", requests: "Requests",
      day: "Day", noUsage: "No usage yet.", spend: "Spend, last 30 days", byDay: "Spend by day",
      byModel: "Spend by model", total: "Total", none30: "No usage in the last 30 days.",
      cap: "Your monthly cap", capUse: "{spent} spent and {reserved} reserved of {cap}", left: "{left} left",
      noCap: "{spent} spent this month (no cap)",
      invite: "Invite a friend", yourCode: "Your referral code", copy: "Copy", copied: "Copied",
      earnBoth: "When someone you invite makes their first top-up, you get {referrer} and they get {referred}.",
      earnYou: "When someone you invite makes their first top-up, you get {referrer}.",
      earnExpiry: "Referral credits expire {days} days after they are given."
    },
    fr: {
      balance: "Solde de crédits", available: "Disponible", owing: "Solde", reserved: "Réservé pour les requêtes en cours",
      low: "Votre solde est bas", period: "Fin de la période du forfait", loading: "Chargement…",
      expired: "Votre session a expiré. Rechargez la page pour voir vos crédits.",
      unavailable: "Les crédits sont indisponibles pour le moment. Réessayez dans un instant.",
      topup: "Recharger", topupTitle: "Ajouter des crédits", amount: "Montant", other: "Autre montant",
      pay: "Continuer vers le paiement", paying: "Ouverture de la page de paiement…",
      bounds: "Choisissez un montant entre {min} et {max}.",
      history: "Historique des crédits", date: "Date", what: "Description", change: "Montant",
      after: "Solde après", more: "Afficher plus", none: "Aucune opération pour l’instant.", end: "C’est tout.",
      suspended: "Votre compte est suspendu.", owed: "Montant dû", payOwed: "Payer le montant dû",
      reasons: { payment_failed: "Votre dernier paiement a échoué.", dispute: "Un de vos paiements est contesté.",
                 manual: "Le service l’a suspendu. Contactez le support pour le rétablir." },
      restore: "Payez le montant dû pour utiliser à nouveau votre compte.",
      retry: "Nous réessaierons votre carte le {date}.",
      causes: { grant: "Crédit", usage: "Consommation", expiry: "Expiré", refund: "Remboursement",
                adjustment: "Ajustement", dispute: "Paiement contesté", dispute_won: "Contestation gagnée" },
      sources: { signup_bonus: "Bonus de bienvenue", topup: "Recharge", promo: "Code promo", referral: "Parrainage",
                 plan: "Crédits du forfait", payment: "Paiement", refund: "Remboursement", adjustment: "Ajustement",
                 debt: "Dette", forced: "Consommation" },
      tabs: "Historique", credits: "Crédits", usage: "Consommation", receipt: "Reçu", invoice: "Facture", invoicePdf: "PDF", model: "Modèle",
      time: "Heure", tokensIn: "Jetons en entrée", tokensOut: "Jetons en sortie", cost: "Coût",
      dayTotal: "Total", requests: "Requêtes", day: "Jour", noUsage: "Aucune consommation pour l’instant.",
      spend: "Dépenses des 30 derniers jours", byDay: "Dépenses par jour", byModel: "Dépenses par modèle",
      total: "Total", none30: "Aucune consommation sur les 30 derniers jours.", cap: "Votre plafond mensuel",
      capUse: "{spent} dépensés et {reserved} réservés sur {cap}", left: "reste {left}",
      noCap: "{spent} dépensés ce mois-ci (sans plafond)",
      invite: "Parrainez un ami", yourCode: "Votre code de parrainage", copy: "Copier", copied: "Copié",
      earnBoth: "Quand une personne que vous invitez fait sa première recharge, vous recevez {referrer} et elle reçoit {referred}.",
      earnYou: "Quand une personne que vous invitez fait sa première recharge, vous recevez {referrer}.",
      earnExpiry: "Les crédits de parrainage expirent {days} jours après leur attribution."
    }
  };

  var CSS =
    ":host{display:inline-block;font:var(--creditd-font,14px/1.4 system-ui,sans-serif);" +
    "color:var(--creditd-color,#1d2330)}:host([hidden]){display:none}" +
    ".code{font:600 1.15em/1.4 ui-monospace,monospace;letter-spacing:.08em;user-select:all;" +
    "overflow-wrap:anywhere}.share{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:.3em 0}" +
    ".box{background:var(--creditd-bg,#fff);border:1px solid var(--creditd-border,#d5d9e0);" +
    "border-radius:var(--creditd-radius,8px);padding:.6em .9em}" +
    ".amount{font-weight:600;font-variant-numeric:tabular-nums}" +
    ".low .amount,.low .badge{color:var(--creditd-low,#c0262d)}" +
    ".badge{display:inline-flex;gap:.4em;align-items:baseline}" +
    ".note{font-size:.85em;opacity:.8;margin:.2em 0 0}" +
    ".error{color:var(--creditd-low,#c0262d);margin:0}" +
    ".alert{background:var(--creditd-alert-bg,#fdf2f2);border-left:4px solid var(--creditd-low,#c0262d);" +
    "padding:.4em .6em;margin:.4em 0;overflow-wrap:anywhere}.alert p{margin:.15em 0}" +
    ".alert strong{color:var(--creditd-low,#c0262d)}" +
    "button{font:inherit;cursor:pointer;border-radius:var(--creditd-radius,8px);padding:.35em .8em;" +
    "border:1px solid var(--creditd-accent,#2450d8);background:var(--creditd-bg,#fff);" +
    "color:var(--creditd-accent,#2450d8)}" +
    "button.primary,button[aria-pressed=true]{background:var(--creditd-accent,#2450d8);" +
    "color:var(--creditd-accent-text,#fff)}" +
    "button:focus-visible,input:focus-visible{outline:2px solid var(--creditd-accent,#2450d8);outline-offset:2px}" +
    "button[disabled]{opacity:.5;cursor:default}" +
    ".other{display:block;margin:.2em 0}.choices{display:flex;flex-wrap:wrap;gap:.4em;margin:.4em 0;border:0;padding:0}" +
    "input{font:inherit;width:7em;padding:.3em;border:1px solid var(--creditd-border,#d5d9e0);" +
    "border-radius:var(--creditd-radius,8px)}" +
    "table{border-collapse:collapse;width:100%}caption{text-align:left;font-weight:600;padding-bottom:.4em}" +
    "th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid var(--creditd-border,#d5d9e0)}" +
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}" +
    ".neg{color:var(--creditd-low,#c0262d)}.sr{position:absolute;width:1px;height:1px;overflow:hidden;" +
    "clip:rect(0 0 0 0);white-space:nowrap}" +
    "[role=tablist]{display:flex;gap:.3em;margin-bottom:.5em}[role=tab]{border-radius:var(--creditd-radius,8px) " +
    "var(--creditd-radius,8px) 0 0}[role=tab][aria-selected=true]{background:var(--creditd-accent,#2450d8);" +
    "color:var(--creditd-accent-text,#fff)}.tag{display:inline-block;font-size:.8em;padding:0 .5em;" +
    "border-radius:1em;background:var(--creditd-tag-bg,#e8edfb);color:var(--creditd-accent,#2450d8);" +
    "margin-right:.4em}tr.day th{background:var(--creditd-day-bg,#f3f5f8);font-weight:600}" +
    "a{color:var(--creditd-accent,#2450d8)}svg{display:block;width:100%;height:auto;margin:.3em 0}" +
    ".bar{fill:var(--creditd-accent,#2450d8)}.axis{font-size:11px;fill:currentColor;opacity:.7}" +
    ".cap{display:flex;height:.8em;border-radius:1em;overflow:hidden;background:var(--creditd-border,#d5d9e0);" +
    "margin:.3em 0}.cap span{display:block}.spent{background:var(--creditd-accent,#2450d8)}" +
    ".held{background:var(--creditd-held,#8da6ee)}.over .spent{background:var(--creditd-low,#c0262d)}" +
    "h3{font-size:1em;margin:.6em 0 .2em}.scroll{overflow-x:auto}";

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (k) { if (k) e.appendChild(k); });
    return e;
  }

  /* Money: micros of the account's currency, formatted for the locale. */
  function money(micros, currency, locale) {
    var units = micros / 1e6;
    if (!currency || !/^[A-Z]{3}$/.test(currency)) {
      return new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(units) + " " + (currency || "");
    }
    return new Intl.NumberFormat(locale, { style: "currency", currency: currency }).format(units);
  }

  /* A cost: below one cent, enough decimals (up to 4) not to read as
   * zero, as a chat costs about a tenth of a cent; a non-zero cost below
   * 0.0001 shows as 0.0001 rather than 0.00. */
  function cost(micros, currency, locale) {
    var a = Math.abs(micros);
    if (a === 0 || a >= 10000 || !/^[A-Z]{3}$/.test(currency || "")) return money(micros, currency, locale);
    var units = (micros < 0 ? -1 : 1) * Math.max(a, 100) / 1e6;
    return new Intl.NumberFormat(locale, { style: "currency", currency: currency, minimumFractionDigits: 2,
                                           maximumFractionDigits: 4 }).format(units);
  }

  function count(n, locale) { return new Intl.NumberFormat(locale).format(n || 0); }

  /* A UTC day (YYYY-MM-DD) as the locale writes it, and a row's UTC day. */
  function dayText(day, locale, style) {
    var d = new Date(day + "T00:00:00Z");
    return isNaN(d) ? day : new Intl.DateTimeFormat(locale, { dateStyle: style || "medium", timeZone: "UTC" }).format(d);
  }
  function utcDay(ms) { return new Date(ms).toISOString().slice(0, 10); }

  function dateText(iso, locale) {
    var d = new Date(iso);
    return isNaN(d) ? iso : new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(d);
  }

  /* A suspended account's notice: that it is suspended and why, what it
   * owes and, in full, when the card is tried again. An alert, so that a
   * screen reader says it as soon as it shows. Null when active. */
  function notice(me, t, locale, full) {
    if (me.status !== "suspended") return null;
    var kids = [el("p", {}, [el("strong", { text: t.suspended }),
                             document.createTextNode(t.reasons[me.status_reason] ? " " + t.reasons[me.status_reason] : "")])];
    if (me.owed_micros > 0) kids.push(owed(me, t, locale));
    var c = me.collection;
    if (full && me.status_reason === "payment_failed") {
      if (me.owed_micros > 0) kids.push(el("p", { text: t.restore }));
      if (c && c.state === "failed" && c.next_try_at) {
        kids.push(el("p", { part: "retry", text: t.retry.replace("{date}", dateText(c.next_try_at, locale)) }));
      }
    }
    return el("div", { class: "alert", role: "alert", part: "notice" }, kids);
  }

  function owed(me, t, locale) {
    return el("p", { class: "owed", part: "owed" }, [el("span", { text: t.owed + ": " }),
      el("span", { class: "amount", text: money(me.owed_micros, me.currency, locale) })]);
  }

  /* The top-up that covers a debt: whole cents rounded up, within the
   * top-up bounds; 0 without a debt or when one top-up cannot cover it. */
  function owedCents(me) {
    var b = me.topup, rate = b.micros_per_cent > 0 ? b.micros_per_cent : 10000, o = me.owed_micros || 0;
    if (!(o > 0)) return 0;
    var c = Math.max(b.min_cents, Math.floor(o / rate) + (o % rate ? 1 : 0));
    return c <= b.max_cents ? c : 0;
  }

  /* The shared base of the three elements: attributes, fetch, messages. */
  class Base extends HTMLElement {
    static get observedAttributes() { return ["token", "base-url", "locale"]; }
    connectedCallback() {
      if (!this.shadowRoot) {
        this.attachShadow({ mode: "open" });
        this.shadowRoot.appendChild(el("style", { text: CSS }));
        this.view = this.shadowRoot.appendChild(el("div", { class: "box", part: "box" }));
      }
      this.load();
    }
    attributeChangedCallback() { if (this.view) this.load(); }
    lang() {
      var l = (this.getAttribute("locale") || document.documentElement.lang || "en").toLowerCase().slice(0, 2);
      return TEXT[l] ? l : "en";
    }
    t() { return TEXT[this.lang()]; }
    api(method, path, body) {
      var base = (this.getAttribute("base-url") || DEFAULT_BASE).replace(/\/$/, "");
      var init = { method: method, headers: { Authorization: "Bearer " + (this.getAttribute("token") || "") },
                   credentials: "omit" };
      if (body) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return fetch(base + path, init).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) throw { status: r.status, body: j };
          return j;
        });
      }, function () { throw { status: 0 }; });
    }
    /* An error the user can act on, never a blank box. */
    fail(e) {
      var t = this.t();
      this.setAttribute("state", e && e.status === 401 ? "expired" : "error");
      this.view.className = "box";
      this.view.replaceChildren(el("p", { class: "error", role: "alert",
        text: e && e.status === 401 ? t.expired : t.unavailable }));
    }
    busy() {
      this.removeAttribute("state");
      this.view.replaceChildren(el("p", { class: "note", role: "status", text: this.t().loading }));
    }
  }

  /* <creditd-balance variant="compact|full"> */
  class Balance extends Base {
    static get observedAttributes() { return Base.observedAttributes.concat(["variant"]); }
    load() {
    var self = this, t = this.t(), locale = this.lang();
    this.busy();
    return this.api("GET", "/v1/me").then(function (me) {
      /* A suspended account can spend nothing: its balance, not what its
       * overdraft would leave available, is the figure to show. */
      var full = self.getAttribute("variant") === "full", alert = notice(me, t, locale, full);
      var shown = alert ? me.balance_micros : me.available_micros, text = money(shown, me.currency, locale);
      var badge = el("span", { class: "badge" }, [
        el("span", { class: "sr", text: t.balance + ": " }),
        el("span", { class: "amount" + (shown < 0 ? " neg" : ""), part: "amount", text: text })]);
      var kids = [badge];
      if (me.low) kids.push(el("span", { class: "note", text: " " + t.low }));
      if (alert) kids.push(alert);
      else if (me.owed_micros > 0) kids.push(owed(me, t, locale));
      if (full) {
        kids.unshift(el("p", { class: "note", text: alert ? t.owing : t.available }));
        if (me.reserved_micros > 0) {
          kids.push(el("p", { class: "note", text: t.reserved + ": " + money(me.reserved_micros, me.currency, locale) }));
        }
        if (me.period_end) kids.push(el("p", { class: "note", text: t.period + ": " + dateText(me.period_end, locale) }));
      }
      self.view.className = "box" + (me.low ? " low" : "");
      self.view.setAttribute("role", "status");
      self.view.setAttribute("aria-live", "polite");
      self.view.setAttribute("aria-label", t.balance + ": " + text + (me.low ? ". " + t.low : "") +
                             (me.owed_micros > 0 ? ". " + t.owed + ": " + money(me.owed_micros, me.currency, locale) : ""));
      self.view.replaceChildren.apply(self.view, kids);
      self.setAttribute("state", alert ? "suspended" : me.low ? "low" : "ok");
      self.dataset.availableMicros = String(me.available_micros);
    }, function (e) { self.fail(e); });
    }
  }

  /* <creditd-topup>: preset amounts within the top-up bounds, or another
   * amount, then Stripe Checkout. */
  class Topup extends Base {
    load() {
    var self = this, t = this.t(), locale = this.lang();
    this.busy();
    return this.api("GET", "/v1/me").then(function (me) {
      var b = me.topup, cur = (b.currency || me.currency || "").toUpperCase();
      var cents = function (c) { return money(c * 10000, cur, locale); };
      var presets = [500, 1000, 2000, 5000].filter(function (c) { return c >= b.min_cents && c <= b.max_cents; });
      if (!presets.length) presets = [b.min_cents];
      var chosen = presets[Math.min(1, presets.length - 1)];
      /* A debt: its amount comes first and is chosen, and the button says what it pays. */
      var debt = owedCents(me);
      if (debt) {
        presets = [debt].concat(presets.filter(function (c) { return c !== debt; }));
        chosen = debt;
      }
      var group = el("div", { class: "choices", role: "group", "aria-label": t.amount });
      var input = el("input", { type: "number", inputmode: "decimal", min: String(b.min_cents / 100),
                                max: String(b.max_cents / 100), step: "0.01" });
      var hint = el("p", { class: "note", id: "hint",
                           text: t.bounds.replace("{min}", cents(b.min_cents)).replace("{max}", cents(b.max_cents)) });
      var status = el("p", { class: "note", role: "status", "aria-live": "polite" });
      var pay = el("button", { class: "primary", type: "button", part: "pay", text: t.pay });
      function pick(c) {
        chosen = c;
        Array.prototype.forEach.call(group.querySelectorAll("button"), function (x) {
          x.setAttribute("aria-pressed", String(Number(x.value) === c));
        });
        pay.disabled = !(c >= b.min_cents && c <= b.max_cents);
        pay.textContent = debt && c === debt ? t.payOwed : t.pay;
      }
      presets.forEach(function (c) {
        var x = el("button", { type: "button", value: String(c), text: cents(c) });
        x.addEventListener("click", function () { input.value = ""; pick(c); });
        group.appendChild(x);
      });
      input.setAttribute("aria-describedby", "hint");
      input.addEventListener("input", function () { pick(Math.round(Number(input.value) * 100)); });
      pay.addEventListener("click", function () {
        pay.disabled = true;
        status.textContent = t.paying;
        self.api("POST", "/v1/me/topup", { amount_cents: chosen }).then(function (r) {
          var go = self.dispatchEvent(new CustomEvent("creditd-checkout", { bubbles: true, cancelable: true,
                                                                            detail: r }));
          if (go) window.location.assign(r.checkout_url);
        }, function (e) { self.fail(e); });
      });
      var other = el("label", { class: "other" }, [el("span", { text: t.other + " " }), input]);
      var kids = [el("p", { text: t.topupTitle }), group, other, hint, pay, status];
      if (me.owed_micros > 0) kids.splice(1, 0, owed(me, t, locale));
      self.view.replaceChildren.apply(self.view, kids);
      pick(chosen);
      self.setAttribute("state", "ok");
    }, function (e) { self.fail(e); });
    }
  }

  /* The descriptions creditd writes itself: the source's label says as
   * much, so only an operator's own words are shown beside it. */
  var DEFAULT_TEXTS = ["signup bonus", "stripe top-up", "auto-recharge", "promo code", "plan credit for the period",
    "plan credit rolled over", "plan upgrade for the rest of the period", "subscription period",
    "pay-as-you-go collection", "late settle below captured hold", "stripe dispute", "stripe dispute won",
    "stripe refund", "expired hold released", "expired hold captured", "expired grant written off"];

  /* A credit row's label: its source (a grant's, in the page's locale), or
   * its cause with the source it took from. */
  function label(x, t) {
    var s = t.sources[x.source], c = t.causes[x.cause] || x.cause;
    if (x.cause === "grant") return s || c;
    return s && s !== c ? c + " · " + s : c;
  }

  function creditRow(x, t, locale, currency) {
    var what = el("td", {}, [el("span", { class: "tag", part: "source", text: label(x, t) })]);
    var d = x.description;
    if (d && DEFAULT_TEXTS.indexOf(d.trim().toLowerCase()) < 0) what.appendChild(el("span", { part: "description", text: d }));
    /* A top-up's receipt and, when Stripe made one, its invoice (hosted
     * page and PDF): https links only, opened apart from the page. */
    [["receipt_url", "receipt", t.receipt], ["invoice_url", "invoice", t.invoice],
     ["invoice_pdf", "invoice-pdf", t.invoicePdf]].forEach(function (l) {
      var url = x[l[0]];
      if (typeof url !== "string" || !/^https:\/\//.test(url)) return;
      what.appendChild(document.createTextNode(" "));
      what.appendChild(el("a", { href: url, target: "_blank", rel: "noopener noreferrer", part: l[1], text: l[2] }));
    });
    return el("tr", {}, [el("td", { text: dateText(x.created_at, locale) }), what,
      el("td", { class: "num" + (x.amount_micros < 0 ? " neg" : ""), text: cost(x.amount_micros, currency, locale) }),
      el("td", { class: "num", text: money(x.balance_after_micros, currency, locale) })]);
  }

  function usageRow(x, t, locale, currency) {
    var u = x.usage || {}, time = new Date(x.created_at);
    return el("tr", { part: "call" }, [
      el("td", { text: isNaN(time) ? x.created_at : new Intl.DateTimeFormat(locale, { timeStyle: "short" }).format(time) }),
      el("td", { text: u.model || x.description || t.causes.usage }),
      el("td", { class: "num", text: u.model ? count(u.input_tokens, locale) : "" }),
      el("td", { class: "num", text: u.model ? count(u.output_tokens, locale) : "" }),
      el("td", { class: "num neg", part: "cost", text: cost(x.amount_micros, currency, locale) })]);
  }

  /* A captioned table's head; the columns from `num` on are figures. */
  function table(caption, heads, num, sr) {
    return el("table", {}, [el("caption", { class: sr ? "sr" : "", text: caption }), el("thead", {}, [el("tr", {},
      heads.map(function (h, i) { return el("th", { scope: "col", class: i >= num ? "num" : "", text: h }); }))])]);
  }

  /* <creditd-history page-size="N" tab="credits|usage">: the journal,
   * newest first, a page at a time, in two tabs: Credits (what came in
   * and went out other than usage) and Usage (one row per call, a day's
   * total heading its calls). */
  class History extends Base {
    static get observedAttributes() { return Base.observedAttributes.concat(["page-size"]); }
    load() {
    var self = this, t = this.t(), locale = this.lang();
    var size = Math.max(1, Math.min(200, parseInt(this.getAttribute("page-size"), 10) || 20));
    this.busy();
    return this.api("GET", "/v1/me").then(function (me) {
      var cur = me.currency, totals = {}, report = null;
      var credits = el("tbody"), ctable = table(t.history, [t.date, t.what, t.change, t.after], 2, true);
      ctable.appendChild(credits);
      var utable = table(t.usage, [t.time, t.model, t.tokensIn, t.tokensOut, t.cost], 2, true);
      var days = {}, nUsage = 0;
      var list = el("div", { role: "tablist", "aria-label": t.tabs }), panels = {}, tabs = {};
      var empty = { credits: el("p", { class: "note", text: t.none }), usage: el("p", { class: "note", text: t.noUsage }) };
      ["credits", "usage"].forEach(function (k) {
        tabs[k] = list.appendChild(el("button", { type: "button", role: "tab", id: "tab-" + k, part: "tab",
                                                  "aria-controls": "panel-" + k, text: t[k] }));
        panels[k] = el("div", { role: "tabpanel", id: "panel-" + k, part: k, "aria-labelledby": "tab-" + k,
                                tabindex: "0", class: "scroll" }, [k === "credits" ? ctable : utable, empty[k]]);
        tabs[k].addEventListener("click", function () { select(k); });
      });
      function select(k, focus) {
        Object.keys(tabs).forEach(function (n) {
          tabs[n].setAttribute("aria-selected", String(n === k));
          tabs[n].tabIndex = n === k ? 0 : -1;
          panels[n].hidden = n !== k;
        });
        self.setAttribute("tab", k);
        if (focus) tabs[k].focus();
      }
      list.addEventListener("keydown", function (e) {
        var k = self.getAttribute("tab"), go = { ArrowRight: 1, ArrowLeft: -1, Home: "credits", End: "usage" }[e.key];
        if (!go) return;
        e.preventDefault();
        select(typeof go === "string" ? go : k === "credits" ? "usage" : "credits", true);
      });
      function addUsage(x) {
        var day = utcDay(Date.parse(x.created_at)), g = days[day];
        if (!g) {
          g = days[day] = { sum: 0, cell: el("th", { class: "num", part: "day-total" }) };
          utable.appendChild(el("tbody", { part: "day" }, [el("tr", { class: "day" }, [
            el("th", { scope: "rowgroup", colspan: "4", text: dayText(day, locale, "full") }), g.cell])]));
          g.body = utable.lastChild;
        }
        g.sum += x.amount_micros;
        g.body.appendChild(usageRow(x, t, locale, cur));
        nUsage++;
      }
      function heads() {
        Object.keys(days).forEach(function (day) {
          days[day].cell.textContent = t.dayTotal + " " + cost(day in totals ? -totals[day] : days[day].sum, cur, locale);
        });
      }
      /* The days' totals come from the usage report (asked once, when
       * usage shows), so that a day a page cuts in two still shows its
       * whole total; without it, the sum of the rows shown. */
      function report_totals() {
        if (report || !nUsage) return;
        report = self.api("GET", "/v1/me/usage?group_by=day").then(function (r) {
          (r.data || []).forEach(function (d) { totals[d.day] = d.cost_micros; });
          heads();
        }, function () {});
      }
      var more = el("button", { type: "button", part: "more", text: t.more });
      var status = el("p", { class: "note", role: "status", "aria-live": "polite" });
      var cursor = null;
      function page() {
        more.disabled = true;
        var q = "?limit=" + size + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
        return self.api("GET", "/v1/me/transactions" + q).then(function (p) {
          (p.data || []).forEach(function (x) {
            if (x.cause === "usage") addUsage(x);
            else credits.appendChild(creditRow(x, t, locale, cur));
          });
          cursor = p.next_cursor;
          more.hidden = !cursor;
          more.disabled = false;
          empty.credits.hidden = credits.children.length > 0;
          empty.usage.hidden = nUsage > 0;
          status.textContent = cursor || !(credits.children.length + nUsage) ? "" : t.end;
          heads();
          report_totals();
          self.setAttribute("usage-rows", String(nUsage));
          self.setAttribute("rows", String(credits.children.length + nUsage));
        }, function (e) { self.fail(e); });
      }
      more.addEventListener("click", page);
      self.view.replaceChildren(list, panels.credits, panels.usage, more, status);
      var want = self.getAttribute("tab");
      select(want === "usage" || want === "credits" ? want : me.member ? "usage" : "credits");
      self.setAttribute("state", "ok");
      return page();
    }, function (e) { self.fail(e); });
    }
  }

  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, kids) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { if (k === "text") e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]); });
    (kids || []).forEach(function (k) { e.appendChild(k); });
    return e;
  }

  /* The last 30 days' spend by day: bars in inline SVG (hidden from
   * screen readers, which read the same figures in a table instead). */
  function chart(first, byDay, t, locale, cur) {
    var max = 0, bars = [], rows = [], i, day, v;
    for (i = 0; i < 30; i++) max = Math.max(max, byDay[utcDay(first + i * 864e5)] || 0);
    for (i = 0; i < 30; i++) {
      day = utcDay(first + i * 864e5);
      v = byDay[day] || 0;
      if (!v) continue;
      var h = Math.max(1, Math.round(v / max * 100)), tip = dayText(day, locale) + ": " + cost(v, cur, locale);
      bars.push(svg("rect", { class: "bar", x: String(i * 20 + 2), y: String(120 - h), width: "16", height: String(h),
                              "data-day": day }, [svg("title", { text: tip })]));
      rows.push(el("tr", {}, [el("th", { scope: "row", text: dayText(day, locale) }),
                               el("td", { class: "num", text: cost(v, cur, locale) })]));
    }
    /* 20 units a day, 100 for the highest day: drawn about its own size. */
    var pic = svg("svg", { viewBox: "0 0 600 136", "aria-hidden": "true", part: "chart" }, bars.concat([
      svg("line", { x1: "0", x2: "600", y1: "120.5", y2: "120.5", stroke: "currentColor", "stroke-opacity": ".3" }),
      svg("text", { class: "axis", x: "0", y: "12", text: max ? cost(max, cur, locale) : "" }),
      svg("text", { class: "axis", x: "0", y: "134", text: dayText(utcDay(first), locale) }),
      svg("text", { class: "axis", x: "600", y: "134", "text-anchor": "end", text: dayText(utcDay(first + 29 * 864e5), locale) })]));
    var sr = table(t.byDay, [t.day, t.cost], 1, true);
    sr.classList.add("sr");
    sr.setAttribute("part", "day-table");
    sr.appendChild(el("tbody", {}, rows));
    return [el("h3", { "aria-hidden": "true", text: t.byDay }), pic, sr];
  }

  /* A member's month against its cap: spent and reserved, side by side. */
  function capBar(m, t, locale, cur) {
    var f = function (x) { return money(x || 0, cur, locale); };
    if (m.monthly_cap_micros === null || m.monthly_cap_micros === undefined) {
      return el("p", { part: "cap", text: t.noCap.replace("{spent}", f(m.month_spent_micros)) });
    }
    var cap = Math.max(1, m.monthly_cap_micros), spent = Math.min(100, (m.month_spent_micros || 0) / cap * 100);
    var held = Math.min(100 - spent, (m.reserved_micros || 0) / cap * 100);
    var left = m.remaining_micros !== null && m.remaining_micros !== undefined ? m.remaining_micros :
               m.monthly_cap_micros - (m.month_spent_micros || 0) - (m.reserved_micros || 0);
    var text = t.capUse.replace("{spent}", f(m.month_spent_micros)).replace("{reserved}", f(m.reserved_micros))
                .replace("{cap}", f(m.monthly_cap_micros)) + " · " + t.left.replace("{left}", f(Math.max(0, left)));
    return el("div", { part: "cap" }, [el("h3", { text: t.cap }),
      el("div", { class: "cap" + (left <= 0 ? " over" : ""), role: "img", "aria-label": t.cap + ": " + text }, [
        el("span", { class: "spent", part: "cap-spent", style: "width:" + spent.toFixed(2) + "%" }),
        el("span", { class: "held", part: "cap-reserved", style: "width:" + held.toFixed(2) + "%" })]),
      el("p", { class: "note", text: text })]);
  }

  /* <creditd-usage>: the last 30 days' spend by day and by model, and a
   * member's cap when the token names a member. */
  class Usage extends Base {
    load() {
    var self = this, t = this.t(), locale = this.lang();
    var first = Date.parse(utcDay(Date.now() - 29 * 864e5) + "T00:00:00Z"), from = "&from=" + utcDay(first);
    this.busy();
    return Promise.all([this.api("GET", "/v1/me"), this.api("GET", "/v1/me/usage?group_by=day" + from),
                        this.api("GET", "/v1/me/usage?group_by=model" + from)]).then(function (r) {
      var me = r[0], cur = r[1].currency || me.currency, byDay = {};
      (r[1].data || []).forEach(function (d) { byDay[d.day] = d.cost_micros; });
      var total = (r[1].total || {}).cost_micros || 0;
      var kids = [el("p", {}, [el("span", { text: t.spend + ": " }),
                               el("span", { class: "amount", part: "total", text: cost(total, cur, locale) })])];
      if (me.member) kids.push(capBar(me.member, t, locale, cur));
      if (total) kids = kids.concat(chart(first, byDay, t, locale, cur));
      var models = table(t.byModel, [t.model, t.requests, t.tokensIn, t.tokensOut, t.cost], 1);
      models.setAttribute("part", "models");
      models.appendChild(el("tbody", {}, (r[2].data || []).slice().sort(function (a, b) {
        return b.cost_micros - a.cost_micros;
      }).map(function (m) {
        return el("tr", {}, [el("th", { scope: "row", text: m.model }), el("td", { class: "num", text: count(m.requests, locale) }),
          el("td", { class: "num", text: count(m.input_tokens, locale) }),
          el("td", { class: "num", text: count(m.output_tokens, locale) }),
          el("td", { class: "num", text: cost(m.cost_micros, cur, locale) })]);
      })));
      kids.push(total ? el("div", { class: "scroll" }, [models]) : el("p", { class: "note", text: t.none30 }));
      self.view.replaceChildren.apply(self.view, kids);
      self.setAttribute("state", "ok");
    }, function (e) { self.fail(e); });
    }
  }

  /* <creditd-referral link="https://app.example/signup?ref={code}">: the
   * account's referral code (or the link made of it) to share, with what a
   * referral earns; hidden when the deployment rewards no referrer. */
  class Referral extends Base {
    static get observedAttributes() { return Base.observedAttributes.concat(["link"]); }
    load() {
    var self = this, t = this.t(), locale = this.lang();
    this.busy();
    return this.api("GET", "/v1/me").then(function (me) {
      var r = me.referral;
      if (!r || !r.code || !(r.referrer_micros > 0)) {
        self.hidden = self.view.hidden = true;    /* the box too: a page's display rule may show the element */
        self.view.replaceChildren();
        self.setAttribute("state", "off");
        return;
      }
      self.hidden = self.view.hidden = false;
      var link = self.getAttribute("link"), shared = link ? link.split("{code}").join(encodeURIComponent(r.code)) : r.code;
      var fill = function (s) {
        return s.replace("{referrer}", money(r.referrer_micros, me.currency, locale))
                .replace("{referred}", money(r.referred_micros, me.currency, locale)).replace("{days}", count(r.expires_days, locale));
      };
      var copy = el("button", { type: "button", part: "copy", text: t.copy });
      var status = el("span", { class: "note", role: "status", part: "copied" });
      copy.addEventListener("click", function () {
        var done = function () { status.textContent = t.copied; };
        if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(shared).then(done, function () {});
      });
      var kids = [el("h3", { text: t.invite }),
        el("p", { class: "share" }, [el("span", { class: "sr", text: t.yourCode + ": " }),
          el("span", { class: "code", part: "code", text: shared }), copy, status]),
        el("p", { part: "earn", text: fill(r.referred_micros > 0 ? t.earnBoth : t.earnYou) })];
      if (r.expires_days > 0) kids.push(el("p", { class: "note", part: "expiry", text: fill(t.earnExpiry) }));
      self.view.setAttribute("aria-label", t.yourCode + ": " + r.code);
      self.view.replaceChildren.apply(self.view, kids);
      self.setAttribute("state", "ok");
      self.dataset.code = r.code;
    }, function (e) { self.fail(e); });
    }
  }

  customElements.define("creditd-balance", Balance);
  customElements.define("creditd-topup", Topup);
  customElements.define("creditd-history", History);
  customElements.define("creditd-usage", Usage);
  customElements.define("creditd-referral", Referral);
})();
