/* creditd-widget.js: a user's balance, top-up and history, for any page.
 *
 *   <script src="https://billing.example.com/credits/widget/creditd-widget.js" defer></script>
 *   <creditd-balance token="cdw1...."></creditd-balance>
 *   <creditd-topup token="cdw1...."></creditd-topup>
 *   <creditd-history token="cdw1...." page-size="10"></creditd-history>
 *
 * Attributes: token (a browser token the app's server minted with
 * POST /v1/accounts/{id}/browser_tokens), base-url (where creditd is
 * mounted; by default where this script came from), locale ("en", "fr").
 * <creditd-balance variant="compact|full">. A suspended account shows
 * why (an alert) and, with a negative balance, what it owes; the top-up
 * then offers to pay that. Theme with CSS custom properties on the
 * elements: --creditd-font, --creditd-color, --creditd-bg,
 * --creditd-border, --creditd-accent, --creditd-accent-text, --creditd-low,
 * --creditd-alert-bg, --creditd-radius. No framework, no build step. */
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
                dispute: "Payment disputed", dispute_won: "Dispute won" }
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
                adjustment: "Ajustement", dispute: "Paiement contesté", dispute_won: "Contestation gagnée" }
    }
  };

  var CSS =
    ":host{display:inline-block;font:var(--creditd-font,14px/1.4 system-ui,sans-serif);" +
    "color:var(--creditd-color,#1d2330)}" +
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
    "clip:rect(0 0 0 0);white-space:nowrap}";

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

  /* <creditd-history page-size="N">: the journal, newest first, a page at a time. */
  class History extends Base {
    static get observedAttributes() { return Base.observedAttributes.concat(["page-size"]); }
    load() {
    var self = this, t = this.t(), locale = this.lang();
    var size = Math.max(1, Math.min(200, parseInt(this.getAttribute("page-size"), 10) || 20));
    this.busy();
    return this.api("GET", "/v1/me").then(function (me) {
      var body = el("tbody");
      var table = el("table", {}, [el("caption", { text: t.history }), el("thead", {}, [el("tr", {}, [
        el("th", { scope: "col", text: t.date }), el("th", { scope: "col", text: t.what }),
        el("th", { scope: "col", class: "num", text: t.change }),
        el("th", { scope: "col", class: "num", text: t.after })])]), body]);
      var more = el("button", { type: "button", part: "more", text: t.more });
      var status = el("p", { class: "note", role: "status", "aria-live": "polite" });
      var cursor = null;
      function page() {
        more.disabled = true;
        var q = "?limit=" + size + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
        return self.api("GET", "/v1/me/transactions" + q).then(function (p) {
          (p.data || []).forEach(function (x) {
            body.appendChild(el("tr", {}, [
              el("td", { text: dateText(x.created_at, locale) }),
              el("td", { text: x.description || t.causes[x.cause] || x.cause }),
              el("td", { class: "num" + (x.amount_micros < 0 ? " neg" : ""), text: money(x.amount_micros, me.currency, locale) }),
              el("td", { class: "num", text: money(x.balance_after_micros, me.currency, locale) })]));
          });
          cursor = p.next_cursor;
          more.hidden = !cursor;
          more.disabled = false;
          status.textContent = !body.children.length ? t.none : cursor ? "" : t.end;
          self.setAttribute("rows", String(body.children.length));
        }, function (e) { self.fail(e); });
      }
      more.addEventListener("click", page);
      self.view.replaceChildren(table, more, status);
      self.setAttribute("state", "ok");
      return page();
    }, function (e) { self.fail(e); });
    }
  }

  customElements.define("creditd-balance", Balance);
  customElements.define("creditd-topup", Topup);
  customElements.define("creditd-history", History);
})();
