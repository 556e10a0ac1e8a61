/* console.js: the operator's console (docs/operations.md, "Console"), one
 * page served by creditd at {base}/console/ with its views routed by the
 * URL's hash (#/overview, #/accounts, #/accounts/ID, #/keys, #/prices,
 * #/events, #/reconcile, #/health). No framework, no build step, nothing
 * from another origin: plain DOM, and no inline script or style (the
 * page's Content-Security-Policy allows none).
 *
 * Every call goes to {base}/console/api/v1/... (the API's own operations,
 * authenticated by the session's cookie) with credentials "same-origin";
 * a write carries the session's X-CSRF-Token and a fresh Idempotency-Key.
 * The key typed at sign-in is sent once to {base}/console/session and
 * never kept (no storage holds it). Money arrives as integer micros and is
 * shown exactly: digits of the integer, never a float's. A read key's
 * session shows no action (the server refuses one anyway). */
"use strict";
(function () {
  const ROOT = location.pathname.replace(/[^/]*$/, "");
  const API = ROOT + "api";
  const S = { session: null, lang: "en", currency: "EUR" };
  const main = document.getElementById("main");
  const $ = (id) => document.getElementById(id);

  /* Strings: English and French, picked as the widget picks them (the
   * browser's language), and switched by the header's button. */
  const T = {
    en: {
      "nav.overview": "Overview", "nav.accounts": "Accounts", "nav.keys": "Keys", "nav.prices": "Prices",
      "nav.events": "Events and mail", "nav.reconcile": "Reconcile", "nav.health": "Health",
      skip: "Skip to the content", other: "Français", dark: "Dark", light: "Light", signout: "Sign out",
      signin: "Sign in", "signin.title": "Sign in to the creditd console", key: "Admin or read key",
      "signin.help": "The key is exchanged for a session of 12 hours at most; it is not kept in this browser.",
      "signin.bad": "This key cannot sign in.", "signin.slow": "Too many failed sign-ins: wait a minute.",
      "signin.ended": "Your session has ended: sign in again.",
      signedin: "Signed in as {0} ({1})", loading: "Loading…", none: "Nothing to show.", yes: "yes", no: "no",
      denied: "This key's scope may not see this.", "call.failed": "The request failed", done: "Done.",
      search: "Search", "search.label": "Id or email (or their start)", next: "Next page", prev: "Previous page",
      "acc.title": "Account {0}", balance: "Balance", reserved: "Reserved", available: "Available",
      grants: "Grants", holds: "Holds in flight", journal: "Journal", usage: "Usage", alerts: "Alerts",
      gwkeys: "Gateway keys", actions: "Actions", "by.day": "By day", "by.model": "By model", "by.member": "By member",
      filter: "Show", "f.all": "every row", "f.topup": "top-ups", "f.refund": "refunds", "f.dispute": "disputes",
      "f.referral": "referrals", "f.note": "Filters the journal's rows loaded on this page.",
      grant: "Grant credit", debit: "Debit", amount: "Amount", source: "Source", expires: "Expires at (UTC)",
      description: "Description", reason: "Reason", send: "Send", suspend: "Suspend", resume: "Resume",
      "status.label": "Status", caps: "Limits", "monthly_limit_micros": "Monthly limit",
      "daily_limit_micros": "Daily limit", "overdraft_limit_micros": "Overdraft", "low_balance_micros": "Low balance at",
      "caps.help": "A field left empty is not changed; “none” removes the limit.", save: "Save", "alert.add": "Add an alert", kind: "Kind",
      threshold: "Threshold (% or amount)", member: "Member", remove: "Remove", revoke: "Revoke",
      mint: "Mint a gateway key", name: "Name", "models.in": "Models (comma-separated)", scopes: "Scopes",
      account: "Account", "key.create": "Create a key", "secret.once": "The secret, shown this once:",
      copy: "Copy", copied: "Copied.", "copy.self": "Selected: copy it with Ctrl+C.", "keys.title": "API keys", "prices.title": "Prices",
      "price.set": "Set a price", model: "Model", "provider.opt": "Provider (optional)",
      "p.input": "Input per million tokens", "p.cached": "Cached input per million tokens",
      "p.output": "Output per million tokens", "p.max": "Max output tokens", history: "History",
      "history.of": "History of {0}",
      "events.title": "Events and mail", events: "Events", after: "After event id", show: "Show",
      mails: "Failed deliveries", retry: "Retry", "rec.title": "Reconcile", "rec.rows": "By day and model", from: "From", to: "To",
      "health.title": "Health", "ov.title": "Overview", "acc.list": "Accounts", usagechart: "Cost by {0}",
      balance_micros: "Balance", reserved_micros: "Reserved", available_micros: "Available",
      month_spent_micros: "Spent this month", day_spent_micros: "Spent today", remaining_micros: "Remaining",
      amount_micros: "Amount", balance_after_micros: "Balance after", cost_micros: "Cost", expires_at: "Expires",
      created_at: "Created", last_used_at: "Last used", input_tokens: "Input tokens", output_tokens: "Output tokens",
      requests: "Requests", actor: "Acted by", status: "Status", state: "State", cause: "Cause", id: "Id", day: "Day", priority: "Priority",
      "bad.amount": "{0}: an amount is digits, at most 10 before the point and 6 after it.",
      "bad.required": "{0}: required.",
      "bad.positive": "{0}: an amount above zero.", "bad.json": "Not JSON: {0}", active: "active",
      import: "Import prices", "import.text": "Price list or LiteLLM catalogue (JSON)", "import.file": "Read a JSON file",
      "import.opts": "Options", "import.max": "Largest rise allowed (%)", "import.skipped": "Skipped entries",
      "import.help": "As creditctl price import: all or nothing; a rise above the bound is refused unless forced. A dry run changes nothing.",
      "import.dry": "Dry run: {0} rows checked, nothing imported.", "import.done": "Imported {1} rows.",
      "rec.recent": "Charged by day (creditd's side, last 7 days)", "import.dry_run": "Dry run (change nothing)",
      "import.force": "Force (allow any rise)", new: "New", changed: "Changed", provider: "Provider",
      "rec.note": "Drift against the providers' bills: what creditctl reconcile compared when it last read their reports, by day, model and figure (docs/reconciliation.md). charged_micros: creditd's charge beside the provider's figures at creditd's prices, in micros.",
      "rec.drift": "Drift against the providers' reports", drift: "Reconcile drift", dimension: "Figure",
      provider_value: "Provider's", creditd_value: "creditd's", compared_at: "Compared", since: "Since",
      abs_drift_micros: "|Drift| charged", abs_drift_tokens: "|Drift| tokens",
    },
    fr: {
      "nav.overview": "Vue d’ensemble", "nav.accounts": "Comptes", "nav.keys": "Clés", "nav.prices": "Prix",
      "nav.events": "Événements et mails", "nav.reconcile": "Rapprochement", "nav.health": "Santé",
      skip: "Aller au contenu", other: "English", dark: "Sombre", light: "Clair", signout: "Se déconnecter",
      signin: "Se connecter", "signin.title": "Connexion à la console creditd", key: "Clé admin ou lecture",
      "signin.help": "La clé est échangée contre une session de 12 heures au plus ; ce navigateur ne la garde pas.",
      "signin.bad": "Cette clé ne peut pas se connecter.", "signin.slow": "Trop d’échecs : attendez une minute.",
      "signin.ended": "Votre session a pris fin : reconnectez-vous.",
      signedin: "Connecté : {0} ({1})", loading: "Chargement…", none: "Rien à afficher.", yes: "oui", no: "non",
      denied: "La portée de cette clé ne permet pas de voir ceci.", "call.failed": "La requête a échoué", done: "Fait.",
      search: "Chercher", "search.label": "Id ou e-mail (ou leur début)", next: "Page suivante", prev: "Page précédente",
      "acc.title": "Compte {0}", balance: "Solde", reserved: "Réservé", available: "Disponible",
      grants: "Crédits", holds: "Réservations en cours", journal: "Journal", usage: "Consommation", alerts: "Alertes",
      gwkeys: "Clés de passerelle", actions: "Actions", "by.day": "Par jour", "by.model": "Par modèle",
      "by.member": "Par membre", filter: "Afficher", "f.all": "toutes les lignes", "f.topup": "recharges",
      "f.refund": "remboursements", "f.dispute": "litiges", "f.referral": "parrainages",
      "f.note": "Filtre les lignes du journal chargées sur cette page.",
      grant: "Créditer", debit: "Débiter", amount: "Montant", source: "Origine", expires: "Expire le (UTC)",
      description: "Description", reason: "Motif", send: "Envoyer", suspend: "Suspendre", resume: "Réactiver",
      "status.label": "État", caps: "Limites", "monthly_limit_micros": "Limite mensuelle",
      "daily_limit_micros": "Limite journalière", "overdraft_limit_micros": "Découvert",
      "low_balance_micros": "Solde bas sous", "caps.help": "Un champ vide ne change rien ; « aucune » retire la limite.", save: "Enregistrer",
      "alert.add": "Ajouter une alerte", kind: "Type", threshold: "Seuil (% ou montant)", member: "Membre",
      remove: "Retirer", revoke: "Révoquer", mint: "Créer une clé de passerelle", name: "Nom",
      "models.in": "Modèles (séparés par des virgules)", scopes: "Portées", account: "Compte",
      "key.create": "Créer une clé", "secret.once": "Le secret, affiché cette seule fois :", copy: "Copier",
      copied: "Copié.", "copy.self": "Sélectionné : copiez-le avec Ctrl+C.", "keys.title": "Clés d’API", "prices.title": "Prix", "price.set": "Fixer un prix",
      model: "Modèle", "provider.opt": "Fournisseur (facultatif)", "p.input": "Entrée par million de jetons",
      "p.cached": "Entrée en cache par million de jetons", "p.output": "Sortie par million de jetons",
      "p.max": "Jetons de sortie au plus", history: "Historique", "history.of": "Historique de {0}",
      "events.title": "Événements et mails",
      events: "Événements", after: "Après l’événement n°", show: "Afficher", mails: "Envois en échec",
      retry: "Réessayer", "rec.title": "Rapprochement", "rec.rows": "Par jour et modèle", from: "Du", to: "Au", "health.title": "Santé",
      "ov.title": "Vue d’ensemble", "acc.list": "Comptes", usagechart: "Coût {0}",
      balance_micros: "Solde", reserved_micros: "Réservé", available_micros: "Disponible",
      month_spent_micros: "Dépensé ce mois", day_spent_micros: "Dépensé aujourd’hui", remaining_micros: "Restant",
      amount_micros: "Montant", balance_after_micros: "Solde après", cost_micros: "Coût", expires_at: "Expire le",
      created_at: "Créé le", last_used_at: "Dernier usage", input_tokens: "Jetons d’entrée", output_tokens: "Jetons de sortie",
      requests: "Requêtes", actor: "Auteur", status: "Statut", state: "État", cause: "Cause", id: "Id", day: "Jour", priority: "Priorité",
      plan: "Offre", email: "E-mail", kind: "Type", source: "Origine", description: "Description",
      "bad.amount": "{0} : un montant s’écrit en chiffres, 10 au plus avant la virgule et 6 après.",
      "bad.required": "{0} : obligatoire.",
      "bad.positive": "{0} : un montant au-dessus de zéro.", "bad.json": "Pas du JSON : {0}", active: "actif",
      import: "Importer des prix", "import.text": "Liste de prix ou catalogue LiteLLM (JSON)", "import.file": "Lire un fichier JSON",
      "import.opts": "Options", "import.max": "Hausse la plus forte admise (%)", "import.skipped": "Entrées ignorées",
      "import.help": "Comme creditctl price import : tout ou rien ; une hausse au-delà de la limite est refusée sauf si forcée. Un essai ne change rien.",
      "import.dry": "Essai : {0} lignes vérifiées, rien d’importé.", "import.done": "{1} lignes importées.",
      "rec.recent": "Facturé par jour (côté creditd, 7 derniers jours)", "import.dry_run": "Essai (ne rien changer)",
      "import.force": "Forcer (toute hausse admise)", new: "Nouveau", changed: "Modifié", provider: "Fournisseur",
      "rec.note": "L’écart avec les factures des fournisseurs : ce que creditctl reconcile a comparé à sa dernière lecture de leurs rapports, par jour, modèle et grandeur (docs/reconciliation.md). charged_micros : le montant facturé par creditd face aux chiffres du fournisseur aux prix de creditd, en micros.",
      "rec.drift": "Écart avec les rapports des fournisseurs", drift: "Écart de rapprochement", dimension: "Grandeur",
      provider_value: "Fournisseur", creditd_value: "creditd", compared_at: "Comparé", since: "Depuis",
      abs_drift_micros: "|Écart| facturé", abs_drift_tokens: "|Écart| jetons",
    },
  };
  function t(k, ...a) {
    const s = (T[S.lang] && T[S.lang][k]) || T.en[k] || k;
    return s.replace(/\{(\d)\}/g, (m, i) => String(a[+i]));
  }
  function words(k) {   // a field's name as a heading: its string, else its words
    if (T[S.lang][k] || T.en[k]) return t(k);
    const w = k.replace(/_micros(_per_mtok)?$/, (m, p) => (p ? " /Mtok" : "")).replace(/_/g, " ");
    return w.charAt(0).toUpperCase() + w.slice(1);
  }

  /* Money: int64 micros, exact. JSON numbers beyond 2^53 are read from
   * their source text (BigInt), so no digit is lost. */
  function parse(text) {
    return JSON.parse(text, function (k, v, ctx) {
      if (typeof v === "number" && !Number.isSafeInteger(v) && ctx && /^-?\d+$/.test(ctx.source || "")) return BigInt(ctx.source);
      return v;
    });
  }
  const SYM = { EUR: "€", USD: "$", GBP: "£" };
  function money(v, cur) {
    let b;
    try { b = BigInt(v); } catch (e) { return String(v); }
    const neg = b < 0n;
    if (neg) b = -b;
    const fr = S.lang === "fr";
    let frac = (b % 1000000n).toString().padStart(6, "0").replace(/0+$/, "");
    while (frac.length < 2) frac += "0";
    const whole = (b / 1000000n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, fr ? "\u202f" : ",");
    const num = whole + (fr ? "," : ".") + frac, c = cur || S.currency, sym = SYM[c];
    return (neg ? "-" : "") + (fr ? num + "\u00a0" + (sym || c) : (sym ? sym + num : num + " " + c));
  }
  /* "12.5" -> 12500000 (micros); null when it is not an amount. */
  function micros(text) {
    /* At most 10 digits before the point: the API takes no amount above
     * 10^15 micros (docs/api.md), and a number sent as JSON must be exact
     * (a value past 2^53 would go out rounded). */
    const m = /^\s*(-?)(\d{1,10})(?:[.,](\d{1,6}))?\s*$/.exec(text || "");
    if (!m) return null;
    const v = BigInt(m[2]) * 1000000n + BigInt((m[3] || "").padEnd(6, "0"));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) return null;
    return Number(m[1] ? -v : v);
  }
  function when(v) {
    if (typeof v === "number") v = new Date(v * 1000).toISOString();
    return typeof v === "string" ? v.replace("T", " ").replace(/(:\d\d)(\.\d+)?Z$/, "$1 UTC") : String(v);
  }
  function isMoney(k) { return /(^|_)micros($|_per_)/.test(k) || k === "amount" || k === "cost"; }
  function text(k, v, cur) {
    if (v === null || v === undefined || v === "") return "—";
    if (isMoney(k) && (typeof v === "number" || typeof v === "bigint")) return money(v, cur);
    if ((/_at$/.test(k) || k === "at" || /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(\.\d+)?Z$/.test(v)) && v) return when(v);
    if (typeof v === "boolean") return t(v ? "yes" : "no");
    if (Array.isArray(v) && v.length === 0) return "—";
    if (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object")) return v.join(", ");
    if (typeof v === "object" && !Array.isArray(v)) return Object.entries(v).map(([a, b]) => words(a) + ": " + text(a, b, cur)).join(", ");
    if (typeof v === "object") return JSON.stringify(v, (kk, x) => (typeof x === "bigint" ? x.toString() : x));
    return String(v);
  }

  /* DOM helpers. */
  function el(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") n.className = v; else if (k === "text") n.textContent = v;
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v); else n.setAttribute(k, v === true ? "" : v);
    }
    for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) n.append(c);
    return n;
  }
  function panel(title, ...kids) { return el("section", { class: "panel" }, title ? el("h2", { text: title }) : null, ...kids); }
  function say(msg) { $("status").textContent = msg; }
  function errText(r) {
    const e = r.data && r.data.error;
    return t("call.failed") + " (" + r.status + (e ? " " + e.code + "): " + e.message : ")");
  }
  function cards(obj, keys, cur) {
    return el("div", { class: "cards" }, keys.filter((k) => k in obj).map((k) =>
      el("div", { class: "card", "data-k": k }, el("span", { class: "k", text: words(k) }),
         el("span", { class: "v", text: text(k, obj[k], cur) }))));
  }
  /* A table of rows (objects): columns given or every key met. */
  function table(rows, cols, opt) {
    opt = opt || {};
    if (!rows || rows.length === 0) return el("p", { class: "empty", text: t("none") });
    cols = cols || [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const num = (k) => isMoney(k) || rows.some((r) => typeof r[k] === "number" && !/_at$|^id$/.test(k));
    const head = el("tr", {}, cols.map((k) => el("th", { scope: "col", class: num(k) ? "num" : null, text: words(k) })),
                    opt.act ? el("th", { scope: "col" }, el("span", { class: "sr-only", text: t("actions") })) : null);
    const body = rows.map((r) => el("tr", {}, cols.map((k) => {
      const v = r[k], s = text(k, v, opt.cur);
      const link = opt.link && opt.link(k, r);
      return el("td", { class: num(k) ? "num" : /_at$|^day$/.test(k) ? "nw" : (v && typeof v === "object" && !Array.isArray(v) ? "small" : null) },
                link ? el("a", { href: link, text: s }) : s);
    }), opt.act ? el("td", {}, opt.act(r)) : null));
    /* A wide table scrolls in its own region, which the keyboard reaches. */
    return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": opt.label || opt.caption || cols.map(words).join(", ") },
              el("table", {}, opt.caption ? el("caption", { text: opt.caption }) : null, el("thead", {}, head), el("tbody", {}, body)));
  }
  /* Any answer, shown as it is: figures as cards, lists as tables, objects
   * as their own panels (overview, health, reconcile: what the API gives). */
  function show(obj, opt) {
    opt = opt || {};
    const out = [], scal = {}, keys = [];
    for (const [k, v] of Object.entries(obj || {})) {
      if (Array.isArray(v) && v.some((x) => x && typeof x === "object")) {
        out.push(panel(words(k), table(v, null, { cur: obj.currency, link: opt.link, label: words(k) })));
      } else if (v && typeof v === "object" && !Array.isArray(v)) {
        out.push(panel(words(k), ...show(v, opt)));
      } else if (k !== "currency") { scal[k] = v; keys.push(k); }
    }
    if (keys.length) out.unshift(cards(scal, keys, obj.currency));
    return out;
  }
  const accountLink = (k, r) => ((k === "account" || (k === "id" && (r.balance_micros !== undefined || r.month_spent_micros !== undefined)))
    && typeof r[k] === "string"
    ? "#/accounts/" + encodeURIComponent(r[k]) : null);

  /* Calls. */
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  async function call(method, path, body) {
    const h = { Accept: "application/json" };
    if (method !== "GET") {
      if (S.session) h["X-CSRF-Token"] = S.session.csrf;
      h["Idempotency-Key"] = uuid();
      if (body !== undefined) h["Content-Type"] = "application/json";
    }
    let r;
    try {
      r = await fetch((path.startsWith("/v1/") ? API : ROOT) + path, { method, headers: h, credentials: "same-origin",
        cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) { return { status: 0, ok: false, data: { error: { code: "network", message: String(e) } } }; }
    const raw = await r.text();
    let data = null;
    try { data = raw ? parse(raw) : null; } catch (e) { data = null; }
    if (r.status === 401 && path !== "session" && S.session) { S.session = null; signinView(t("signin.ended")); }
    return { status: r.status, ok: r.ok, data };
  }
  /* A box's calls where the last one asked is the one shown, whatever
   * answers last: the caller latest() gives answers null for a call a
   * later one overtook. */
  function latest() {
    let n = 0;
    return async (method, path, body) => {
      const mine = ++n;
      const r = await call(method, path, body);
      return mine === n ? r : null;
    };
  }
  const admin = () => !!(S.session && S.session.scopes.includes("admin"));
  const enc = encodeURIComponent;
  /* Every page of a list the API answers a page at a time (limit, cursor,
   * has_more, next_cursor; 50 a page unless asked): its rows, at most 100
   * pages of 100, or the first refusal. A view that listed the first page
   * alone never showed the rows after it. */
  async function allPages(url) {
    let rows = [], cursor = null, r;
    for (let n = 0; n < 100; n++) {
      r = await call("GET", url + (url.includes("?") ? "&" : "?") + "limit=100" + (cursor ? "&cursor=" + enc(cursor) : ""));
      if (!r.ok) return r;
      rows = rows.concat(r.data.data || []);
      if (!r.data.has_more || !r.data.next_cursor) break;
      cursor = String(r.data.next_cursor);
    }
    return { ok: true, status: r.status, data: { data: rows } };
  }

  /* A form that sends one operation and shows its result. fields: [{name,
   * label, type: text|money|select|datetime|textarea|checks, options}]. */
  function form(id, fields, submit, handler) {
    const result = el("div", { class: "result", id: id + "-result", role: "status", "aria-live": "polite" });
    const inputs = fields.map((f) => {
      const fid = id + "-" + f.name;
      if (f.type === "checks") {
        return el("fieldset", { class: "field" }, el("legend", { text: f.label }),
          f.options.map((o) => el("label", {}, el("input", { type: "checkbox", name: f.name, value: o, id: fid + "-" + o }),
            " " + ((f.labels && f.labels[o]) || o))));
      }
      const input = f.type === "select"
        ? el("select", { id: fid, name: f.name }, f.options.map((o) => el("option", { value: o[0], text: o[1] })))
        : f.type === "textarea" ? el("textarea", { id: fid, name: f.name, required: f.required })
          : el("input", { id: fid, name: f.name, type: f.secret ? "password" : "text", required: f.required,
                          autocomplete: f.secret ? "off" : null, inputmode: f.type === "money" ? "decimal" : null,
                          placeholder: f.placeholder || (f.type === "datetime" ? "2027-01-01T00:00:00Z" : null) });
      return el("div", { class: "field" + (f.type === "textarea" ? " wide" : "") }, el("label", { for: fid, text: f.label }), input);
    });
    const button = el("button", { type: "submit", id: id + "-submit", text: submit });
    const f = el("form", { class: "act", id, novalidate: true }, inputs, el("div", {}, button));
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const v = {};
      for (const x of fields) {
        v[x.name] = x.type === "checks" ? Array.from(f.querySelectorAll("input[name=" + x.name + "]:checked"), (c) => c.value)
          : f.elements[x.name].value.trim();
      }
      /* Disabled while it is sent, the button loses the focus: it gets it
       * back with the answer, the message under it announced. */
      const had = document.activeElement === button;
      for (const x of f.querySelectorAll("[aria-invalid]")) { x.removeAttribute("aria-invalid"); x.removeAttribute("aria-describedby"); }
      button.disabled = true;
      result.className = "result";
      result.textContent = t("loading");
      try {
        const out = await handler(v);
        result.replaceChildren();
        result.className = "result " + (out.ok ? "ok" : "err");
        const bal = out.ok && out.data && out.data.balance_micros !== undefined
          ? " " + t("balance") + " " + money(out.data.balance_micros, out.data.currency) : "";
        result.append(out.node || (out.ok ? t("done") + bal : out.text || errText(out)));
        if (out.ok && !out.keep) f.reset();
        const bad = !out.ok && out.field && f.elements[out.field];
        if (bad) { bad.setAttribute("aria-invalid", "true"); bad.setAttribute("aria-describedby", result.id); bad.focus(); }
      } finally {
        button.disabled = false;
        if (had && button.isConnected && (!document.activeElement || document.activeElement === document.body)) button.focus();
      }
    });
    return el("div", {}, f, result);
  }
  /* The secret of a new key, shown once with a copy button. */
  function secret(value) {
    const note = el("span", { role: "status" });
    const code = el("code", { class: "secret-value", text: value });
    return el("div", { class: "secret" }, el("span", { text: t("secret.once") }), code,
      el("button", { type: "button", class: "ghost copy", text: t("copy"), onclick: async () => {
        let ok = false;
        try { await navigator.clipboard.writeText(value); ok = true; } catch (e) {
          const r = document.createRange();   // no clipboard API (plain http, no focus): the selection
          r.selectNodeContents(code);
          getSelection().removeAllRanges();
          getSelection().addRange(r);
          try { ok = document.execCommand("copy"); } catch (x) { ok = false; }
        }
        note.textContent = ok ? t("copied") : t("copy.self");
      } }), note);
  }
  function need(v, name) { return v[name] === "" ? undefined : v[name]; }
  /* An amount the page cannot read: the message names the field (label),
   * which the form marks invalid and gives the focus (name). */
  function badAmount(label, name, why) { return { ok: false, text: t(why || "bad.amount", label), field: name }; }

  /* Views. Each fills main and returns once its first answer is shown. */
  async function overviewView() {
    const [r, rec] = await Promise.all([call("GET", "/v1/overview"), call("GET", "/v1/reconcile")]);
    const out = [el("h1", { text: t("ov.title") }), ...(r.ok ? show(r.data, { link: accountLink }) : [refused(r)])];
    /* creditd's charged sums by day as GET /v1/reconcile reads them, drawn
     * as the usage chart is; the stored drift is the overview's own panel. */
    if (rec.ok) {
      const days = {};
      for (const x of rec.data.data || []) days[x.day] = (days[x.day] || 0n) + BigInt(x.charged_micros);
      const rows = Object.keys(days).sort().map((d) => ({ day: d, cost_micros: days[d] }));
      out.push(panel(t("rec.recent"), el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": t("rec.recent") },
        C.chart(rows, "day", S.currency, "rec-chart", t("rec.recent"))), el("p", { class: "muted", text: t("rec.note") }),
        el("p", {}, el("a", { href: "#/reconcile", text: t("nav.reconcile") }))));
    }
    return out;
  }
  function refused(r) { return el("p", { class: "error", role: "alert", text: r.status === 403 ? t("denied") : errText(r) }); }
  /* A button's call refused (a row's revoke or retry, suspend): the error
   * beside the button, where the operator looks, replacing the last one
   * (the status region alone reaches a screen reader, not the eye). */
  function failedAt(button, r) {
    const next = button.nextElementSibling;
    if (next && next.classList.contains("error")) next.remove();
    button.after(refused(r));
  }

  async function accountsView() {
    const box = el("div", { id: "acc-results" });
    const cursors = [""];
    const ask = latest();
    /* The box names the search it shows in data-q. */
    async function load(q, i) {
      box.setAttribute("aria-busy", "true");
      const r = await ask("GET", "/v1/accounts?limit=25&q=" + enc(q) + (cursors[i] ? "&cursor=" + enc(cursors[i]) : ""));
      if (r === null) return;
      box.removeAttribute("aria-busy");
      box.dataset.q = q;
      if (!r.ok) { box.replaceChildren(refused(r)); return; }
      const rows = r.data.data || [];
      const cur = rows.length && rows[0].currency;
      const tb = table(rows, null, { link: (k, row) => (k === "id" ? "#/accounts/" + enc(row.id) : null), cur, label: t("acc.list") });
      const pager = el("div", { class: "pager" });
      if (i > 0) pager.append(el("button", { type: "button", class: "ghost", id: "acc-prev", text: t("prev"), onclick: () => load(q, i - 1) }));
      if (r.data.has_more && r.data.next_cursor) {
        cursors[i + 1] = r.data.next_cursor;
        pager.append(el("button", { type: "button", class: "ghost", id: "acc-next", text: t("next"), onclick: () => load(q, i + 1) }));
      }
      box.replaceChildren(tb, pager);
    }
    const search = el("input", { type: "search", id: "acc-q", name: "q" });
    const f = el("form", { class: "act", role: "search", id: "acc-search" },
      el("div", { class: "field" }, el("label", { for: "acc-q", text: t("search.label") }), search),
      el("div", {}, el("button", { type: "submit", id: "acc-search-submit", text: t("search") })));
    f.addEventListener("submit", (e) => { e.preventDefault(); cursors.length = 1; load(search.value.trim(), 0); });
    await load("", 0);
    return [el("h1", { text: t("acc.list") }), panel(null, f), panel(null, box)];
  }

  async function keysView() {
    const list = el("div", { id: "keys-list" });
    async function load() {
      const r = await allPages("/v1/keys");	/* in id order: the newer keys are on the later pages */
      if (!r.ok) { list.replaceChildren(refused(r)); return; }
      list.replaceChildren(table(r.data.data, null, { label: t("keys.title"), act: admin() ? (k) => k.revoked_at || k.prefix === S.session.key_prefix ? null : el("button", {
        type: "button", class: "danger revoke", "data-id": k.id, text: t("revoke"), "aria-label": t("revoke") + " " + (k.name || k.id),
        onclick: async (e) => { const x = await call("DELETE", "/v1/keys/" + enc(k.id)); say(x.ok ? t("done") : errText(x)); if (x.ok) load(); else failedAt(e.target, x); } }) : null }));
    }
    await load();
    const out = [el("h1", { text: t("keys.title") }), panel(null, list)];
    if (admin()) {
      out.push(panel(t("key.create"), form("f-key", [
        { name: "name", label: t("name") }, { name: "scopes", label: t("scopes"), type: "checks", options: ["read", "app", "admin", "guard"] },
        { name: "models", label: t("models.in") }, { name: "account", label: t("account") }], t("key.create"), async (v) => {
        const body = { scopes: v.scopes };
        if (v.name) body.name = v.name;
        if (v.models) body.models = v.models.split(",").map((s) => s.trim()).filter(Boolean);
        if (v.account) body.account = v.account;
        const r = await call("POST", "/v1/keys", body);
        if (r.ok) { load(); return { ok: true, node: secret(r.data.key) }; }
        return r;
      })));
    }
    return out;
  }

  const PRICE_COLS = ["model", "provider", "input_micros_per_mtok", "cached_input_micros_per_mtok", "cache_write_micros_per_mtok",
                      "output_micros_per_mtok", "max_output_tokens"];
  async function pricesView() {
    const list = el("div", { id: "prices-list" }), hist = el("div", { id: "price-history" });
    async function load() {
      const r = await call("GET", "/v1/models");
      if (!r.ok) { list.replaceChildren(refused(r)); return; }
      S.currency = r.data.currency || S.currency;
      list.replaceChildren(table(r.data.data, PRICE_COLS, { cur: r.data.currency, label: t("prices.title"), act: (m) => el("button", { type: "button", class: "ghost history",
        "data-model": m.model, text: t("history"), "aria-label": t("history") + " " + m.model, onclick: () => history(m.model) }) }));
    }
    async function history(name) {
      const r = await call("GET", "/v1/models/" + enc(name) + "/history");
      hist.replaceChildren(panel(t("history.of", name), r.ok ? table(r.data.data || [], ["effective_at", "provider", ...PRICE_COLS.slice(2)],
        { cur: S.currency, label: t("history.of", name) }) : refused(r)));
      hist.querySelector("h2").setAttribute("tabindex", "-1");
      hist.querySelector("h2").focus();
    }
    await load();
    const out = [el("h1", { text: t("prices.title") }), panel(null, list), hist];
    if (admin()) {
      out.push(panel(t("price.set"), form("f-price", [
        { name: "model", label: t("model"), required: true }, { name: "provider", label: t("provider.opt") },
        { name: "input", label: t("p.input"), type: "money" }, { name: "cached", label: t("p.cached"), type: "money" },
        { name: "output", label: t("p.output"), type: "money" }, { name: "max", label: t("p.max") }], t("save"), async (v) => {
        if (!v.model) return { ok: false, text: t("bad.required", t("model")), field: "model" };
        const body = {};
        for (const [f, k] of [["input", "input_micros_per_mtok"], ["cached", "cached_input_micros_per_mtok"], ["output", "output_micros_per_mtok"]]) {
          if (v[f] === "") continue;
          if ((body[k] = micros(v[f])) === null) return badAmount(t("p." + f), f);
        }
        if (v.max) body.max_output_tokens = Number(v.max);
        const r = await call("PUT", "/v1/models/" + enc(v.model) + (v.provider ? "?provider=" + enc(v.provider) : ""), body);
        if (r.ok) load();
        return r;
      })), importPanel(load));
    }
    return out;
  }
  /* Import (POST /v1/models/import): a price list or LiteLLM's catalogue,
   * pasted or read from a file here (never uploaded elsewhere), with a
   * dry run first if the operator asks; the answer's rows and skips. */
  function importPanel(reload) {
    const file = el("input", { type: "file", id: "import-file", accept: ".json,application/json" });
    const f = form("f-import", [{ name: "prices", label: t("import.text"), type: "textarea", required: true },
      { name: "opts", label: t("import.opts"), type: "checks", options: ["dry_run", "force"],
        labels: { dry_run: t("import.dry_run"), force: t("import.force") } },
      { name: "max", label: t("import.max"), placeholder: "20" }], t("import"), async (v) => {
      let prices;
      try { prices = JSON.parse(v.prices); } catch (e) { return { ok: false, text: t("bad.json", e.message) }; }
      const body = { prices, dry_run: v.opts.includes("dry_run"), force: v.opts.includes("force") };
      if (v.max) body.max_increase_pct = Number(v.max);
      const r = await call("POST", "/v1/models/import", body);
      if (!r.ok) return r;
      if (!body.dry_run) reload();
      const d = r.data;
      return { ok: true, keep: body.dry_run, node: el("div", {}, el("p", { text: t(d.dry_run ? "import.dry" : "import.done", d.data.length, d.imported) }),
        table(d.data.map((x) => ({ model: x.model, provider: x.provider, input_micros_per_mtok: x.input_micros_per_mtok,
          output_micros_per_mtok: x.output_micros_per_mtok, new: x.new, changed: x.changed })), null, { cur: S.currency, label: t("import") }),
        d.skipped.length ? table(d.skipped, null, { label: t("import.skipped"), caption: t("import.skipped") }) : null) };
    });
    file.addEventListener("change", async () => {
      if (file.files[0]) $("f-import-prices").value = await file.files[0].text();
    });
    return panel(t("import"), el("p", { class: "muted", text: t("import.help") }),
      el("div", { class: "field" }, el("label", { for: "import-file", text: t("import.file") }), file), f);
  }

  async function eventsView() {
    const evs = el("div", { id: "events-list" }), mails = el("div", { id: "mails-list" });
    async function loadEvents(after) {
      const r = await call("GET", "/v1/events?limit=50&after=" + enc(after || "0"));
      evs.replaceChildren(r.ok ? table((r.data.data || []).map((e) => ({ id: e.id, type: e.type, created_at: e.created_at,
        account: e.account, data: e.data })), null, { link: accountLink, label: t("events") }) : refused(r));
    }
    async function loadMails() {
      const r = await allPages("/v1/mails?status=failed");
      mails.replaceChildren(r.ok ? table(r.data.data || [], null, { link: accountLink, label: t("mails"), act: admin() ? (m) => el("button", {
        type: "button", class: "retry", "data-id": m.id, text: t("retry"), "aria-label": t("retry") + " " + m.id, onclick: async (e) => {
          const x = await call("POST", "/v1/mails/" + enc(m.id) + "/retry");
          say(x.ok ? t("done") : errText(x));
          if (x.ok) loadMails(); else failedAt(e.target, x);
        } }) : null }) : refused(r));
    }
    await Promise.all([loadEvents("0"), loadMails()]);
    const after = el("input", { type: "text", id: "ev-after", inputmode: "numeric", value: "0" });
    const f = el("form", { class: "act", id: "f-events" }, el("div", { class: "field" }, el("label", { for: "ev-after", text: t("after") }), after),
      el("div", {}, el("button", { type: "submit", id: "f-events-submit", text: t("show") })));
    f.addEventListener("submit", (e) => { e.preventDefault(); loadEvents(after.value.trim()); });
    return [el("h1", { text: t("events.title") }), panel(t("mails"), mails), panel(t("events"), f, evs)];
  }

  async function reconcileView() {
    const box = el("div", { id: "rec-result" });
    const today = new Date().toISOString().slice(0, 10);
    const from0 = new Date(Date.now() - 30 * 86400000).toISOString().slice(0, 10);
    const ask = latest();
    async function load(from, to) {
      const r = await ask("GET", "/v1/reconcile?from=" + enc(from) + "&to=" + enc(to));
      if (r === null) return;
      box.dataset.from = from;	/* the range whose answer the box shows (a test waits for its own) */
      box.dataset.to = to;
      if (!r.ok) { box.replaceChildren(refused(r)); return; }
      const { data, drift, ...rest } = r.data;   // the stored drift, then the day × model rows, each under its heading
      const cols = ["day", "provider", "model", "dimension", "provider_value", "creditd_value", "drift", "compared_at"];
      box.replaceChildren(panel(t("rec.drift"), table(drift || [], cols, { label: t("rec.drift") }),
        el("p", { class: "muted", text: t("rec.note") })), ...show(Object.assign({ "rec.rows": data }, rest)));
    }
    const f = el("form", { class: "act", id: "f-rec" },
      el("div", { class: "field" }, el("label", { for: "rec-from", text: t("from") }), el("input", { type: "text", id: "rec-from", value: from0 })),
      el("div", { class: "field" }, el("label", { for: "rec-to", text: t("to") }), el("input", { type: "text", id: "rec-to", value: today })),
      el("div", {}, el("button", { type: "submit", id: "f-rec-submit", text: t("show") })));
    f.addEventListener("submit", (e) => { e.preventDefault(); load($("rec-from").value.trim(), $("rec-to").value.trim()); });
    await load(from0, today);
    return [el("h1", { text: t("rec.title") }), panel(null, f), box];
  }

  async function healthView() {
    const r = await call("GET", "/v1/health");
    return [el("h1", { text: t("health.title") }), ...(r.ok ? show(r.data) : [refused(r)])];
  }

  /* The account's page lives in console_account.js, which this file's
   * helpers (window.creditdConsole) serve. */
  const views = { overview: overviewView, accounts: accountsView, keys: keysView, prices: pricesView,
                  events: eventsView, reconcile: reconcileView, health: healthView };

  /* Sign-in, sign-out and the router. */
  /* note: why the operator signs in again (a session that ended under
   * the page), said at once with the focus on the key's field. */
  function signinView(note) {
    $("nav").hidden = true; $("signout").hidden = true; $("who").hidden = true;
    const key = el("input", { type: "password", id: "signin-key", name: "key", autocomplete: "off", required: true, spellcheck: "false" });
    const msg = el("p", { id: "signin-msg", role: "alert" });
    const f = el("form", { id: "f-signin" }, el("label", { for: "signin-key", text: t("key") }), key,
      el("p", { class: "muted", text: t("signin.help") }), el("button", { type: "submit", id: "f-signin-submit", text: t("signin") }), msg);
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await call("POST", "session", { key: key.value.trim() });
      key.value = "";
      if (r.status === 204 || r.ok) { await start(); return; }
      msg.className = "error";
      msg.textContent = r.status === 429 ? t("signin.slow") : t("signin.bad");
      key.focus();
    });
    main.replaceChildren(el("div", { class: "signin panel" }, el("h1", { text: t("signin.title") }), f));
    main.dataset.state = "ready";
    main.dataset.view = "signin";
    document.title = t("signin") + " · creditd";
    if (note) { msg.className = "error"; msg.textContent = note; key.focus(); }
  }
  async function start() {
    const r = await call("GET", "session");
    if (!r.ok || !r.data) { S.session = null; signinView(); return; }
    S.session = r.data;
    $("nav").hidden = false; $("signout").hidden = false; $("who").hidden = false;
    $("who").textContent = t("signedin", S.session.key_prefix, S.session.scopes.join(", "));
    document.body.classList.toggle("is-admin", admin());
    await route(true);
  }
  let seq = 0;
  async function route(first) {
    if (!S.session) { signinView(); return; }
    const hash = location.hash;
    const parts = (hash.replace(/^#\/?/, "") || "overview").split("/");
    let name = parts[0], view = views[name];
    const mine = ++seq;
    main.dataset.state = "loading";
    main.replaceChildren(el("p", { class: "muted", text: t("loading") }));
    let nodes;
    if (name === "accounts" && parts[1]) { name = "account"; nodes = await C.accountView(decodeURIComponent(parts.slice(1).join("/"))); }
    else { if (!view) { name = "overview"; view = views.overview; } nodes = await view(); }
    if (mine !== seq || !S.session) return;
    main.replaceChildren(...nodes);
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.dataset.view === (name === "account" ? "accounts" : name)) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    const h1 = main.querySelector("h1");
    document.title = (h1 ? h1.textContent : name) + " · creditd";
    main.dataset.view = name;
    main.dataset.route = hash;	/* the location this view shows (a test waits for it) */
    main.dataset.state = "ready";
    if (!first) main.focus();
  }
  function labels() {
    document.documentElement.lang = S.lang;
    for (const a of document.querySelectorAll("[data-t]")) a.textContent = t(a.dataset.t);
    $("skip").textContent = t("skip");
    $("lang").textContent = t("other");
    $("lang").setAttribute("lang", S.lang === "fr" ? "en" : "fr");
    $("signout").textContent = t("signout");
    const dark = document.documentElement.dataset.theme === "dark" ||
      (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
    $("theme").textContent = t(dark ? "light" : "dark");
    $("theme").setAttribute("aria-pressed", String(dark));
  }
  function init() {
    const saved = localStorage.getItem("creditd-console-lang");
    S.lang = saved || ((navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en");
    const theme = localStorage.getItem("creditd-console-theme");
    if (theme) document.documentElement.dataset.theme = theme;
    labels();
    $("lang").addEventListener("click", () => {
      S.lang = S.lang === "fr" ? "en" : "fr";
      localStorage.setItem("creditd-console-lang", S.lang);
      labels();
      if (S.session) { $("who").textContent = t("signedin", S.session.key_prefix, S.session.scopes.join(", ")); route(true); } else signinView();
    });
    $("theme").addEventListener("click", () => {
      const dark = $("theme").getAttribute("aria-pressed") !== "true";
      document.documentElement.dataset.theme = dark ? "dark" : "light";
      localStorage.setItem("creditd-console-theme", dark ? "dark" : "light");
      labels();
    });
    $("signout").addEventListener("click", async () => {
      await call("DELETE", "session");
      S.session = null;
      signinView();
    });
    window.addEventListener("hashchange", () => route(false));
    start();
  }
  /* What console_account.js (the account's page) uses of this file. */
  const C = window.creditdConsole = { S, T, t, el, panel, say, errText, cards, table, show, accountLink, call, latest, allPages, admin, enc,
    form, secret, need, badAmount, refused, failedAt, money, micros, text, words };
  /* Once every deferred script ran (console_account.js after this one). */
  document.addEventListener("DOMContentLoaded", init);
})();
