/* The grid worker's form: drafts kept on the phone (localStorage) and sent, with their Idempotency-Key,
   until the server has them; so a lost connection neither loses a demand nor files it twice.
   Every word shown comes from the page's data-msg-* attributes (the user's language). */
(function () {
  "use strict";
  var form = document.getElementById("demand-form");
  if (!form || !window.fetch || !window.localStorage) { return; }
  var user = form.getAttribute("data-user");
  var QUEUE = "yangpu.drafts." + user;      // drafts the worker filed that the server may not have yet
  var WORKING = "yangpu.form." + user;      // what is being typed, kept across a reload
  var REQUIRED = ["enterprise.uscc", "enterprise.contact_name", "enterprise.contact_phone", "category", "title",
                  "description"];
  var statusBox = document.getElementById("status");
  var inflight = {};

  function msg(name) { return form.getAttribute("data-msg-" + name) || ""; }
  function load() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function save(list) { localStorage.setItem(QUEUE, JSON.stringify(list)); render(); }
  function upsert(draft) { save(load().filter(function (d) { return d.key !== draft.key; }).concat([draft])); }
  function remove(key) { save(load().filter(function (d) { return d.key !== key; })); }
  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }
  function fields() {
    var out = {};
    new FormData(form).forEach(function (value, name) { if (name !== "csrf_token") { out[name] = String(value); } });
    return out;
  }
  function fill(values) {
    Object.keys(values).forEach(function (name) {
      var els = form.querySelectorAll('[name="' + name + '"]');
      els.forEach(function (el) {
        if (el.type === "radio") { el.checked = el.value === values[name]; } else { el.value = values[name]; }
      });
    });
  }

  function say(text, kind, link) {
    statusBox.textContent = text;
    statusBox.className = "notice" + (kind ? " " + kind : "");
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = msg("view");
      statusBox.appendChild(document.createTextNode(" "));
      statusBox.appendChild(a);
    }
  }

  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach(function (p) {
      p.hidden = true;
      p.textContent = "";
      var field = form.querySelector('[name="' + p.getAttribute("data-error-for") + '"]');
      if (field && field.type !== "radio") { field.removeAttribute("aria-invalid"); }
      if (p.parentElement) { p.parentElement.classList.remove("has-error"); }
    });
  }

  /* Problems beside their fields; those without a field (e.g. the street) go to the status line. */
  function showErrors(errors, message) {
    clearErrors();
    var first = null;
    var loose = [];
    Object.keys(errors || {}).forEach(function (name) {
      var p = form.querySelector('[data-error-for="' + name + '"]');
      var text = [].concat(errors[name]).join(" ");
      if (!p) { loose.push(text); return; }
      p.textContent = text;
      p.hidden = false;
      if (p.parentElement) { p.parentElement.classList.add("has-error"); }
      var field = form.querySelector('[name="' + name + '"]');
      if (field && field.type !== "radio") { field.setAttribute("aria-invalid", "true"); }
      first = first || field;
    });
    say([message || msg("invalid")].concat(loose).join(" "), "bad");
    if (first) { first.focus(); }
  }

  function startOver() {
    form.reset();
    form.elements.idempotency_key.value = newKey();
    form.elements.reported_at.value = "";
    localStorage.removeItem(WORKING);
  }

  function refreshCsrf() {
    return Yangpu.getJSON("/pages/csrf").then(function (body) {
      document.querySelector('meta[name="csrf-token"]').setAttribute("content", body.csrf_token);
    });
  }

  /* Send one draft; `foreground` when the worker just pressed the button and is looking at the form. */
  function send(draft, foreground, retried) {
    if (inflight[draft.key]) { return Promise.resolve(); }
    inflight[draft.key] = true;
    if (foreground) { say(msg("sending")); }
    return Yangpu.post(form.action, draft.fields, { "Idempotency-Key": draft.key }).then(function (r) {
      delete inflight[draft.key];
      if (r.status === 200 || r.status === 201) {
        remove(draft.key);
        if (foreground) { startOver(); }
        say(r.status === 200 ? msg("replayed") : msg("sent"), "ok", r.body.url);
        return;
      }
      if (r.status === 401) { say(msg("signin"), "warn"); return; }
      if (r.status === 400 && !retried) { return refreshCsrf().then(function () { return send(draft, foreground, true); }); }
      if (foreground) {           // the form still holds it: fix it there
        remove(draft.key);
        showErrors(r.body.errors, r.body.message);
      } else {                    // sent in the background: keep it, marked, for the worker to fix
        draft.state = "invalid";
        draft.errors = r.body.errors || {};
        draft.message = r.body.message || msg("invalid");
        upsert(draft);
      }
    }, function () {
      delete inflight[draft.key];  // no connection: it stays queued and goes out when the network returns
      if (foreground) { say(msg("saved"), "warn"); startOver(); }
    });
  }

  function flush() {
    load().filter(function (d) { return d.state === "pending"; }).reduce(function (chain, draft) {
      return chain.then(function () { return send(draft, false); });
    }, Promise.resolve());
  }

  function render() {
    var list = load();
    var section = document.getElementById("drafts-section");
    var ul = document.getElementById("drafts");
    section.hidden = list.length === 0;
    ul.textContent = "";
    list.forEach(function (draft) {
      var li = document.createElement("li");
      li.className = "card";
      var h = document.createElement("h3");
      h.textContent = draft.fields.title || "—";
      var meta = document.createElement("p");
      meta.className = "meta";
      meta.textContent = (draft.state === "invalid" ? msg("fix") : msg("pending")) + " · "
        + new Date(draft.savedAt).toLocaleString(document.documentElement.lang, { timeZone: "Asia/Shanghai" });
      li.appendChild(h);
      li.appendChild(meta);
      if (draft.state === "invalid") {
        var actions = document.createElement("div");
        actions.className = "actions";
        var edit = document.createElement("button");
        edit.type = "button";
        edit.textContent = msg("edit");
        edit.addEventListener("click", function () {
          remove(draft.key);
          form.reset();
          fill(draft.fields);
          showErrors(draft.errors, draft.message);
        });
        var drop = document.createElement("button");
        drop.type = "button";
        drop.className = "danger";
        drop.textContent = msg("discard");
        drop.addEventListener("click", function () { remove(draft.key); });
        actions.appendChild(edit);
        actions.appendChild(drop);
        li.appendChild(actions);
      }
      ul.appendChild(li);
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var values = fields();
    var missing = {};
    REQUIRED.forEach(function (name) { if (!(values[name] || "").trim()) { missing[name] = [msg("required")]; } });
    if (Object.keys(missing).length) { showErrors(missing); return; }
    clearErrors();
    // SLA clocks start when the enterprise raised it, not when the phone found a network.
    values.reported_at = values.reported_at || new Date().toISOString();
    values.idempotency_key = values.idempotency_key || newKey();
    var draft = { key: values.idempotency_key, fields: values, savedAt: Date.now(), state: "pending" };
    upsert(draft);
    send(draft, true);
  });

  var typing = null;
  form.addEventListener("input", function () {
    window.clearTimeout(typing);
    typing = window.setTimeout(function () { localStorage.setItem(WORKING, JSON.stringify(fields())); }, 300);
  });

  /* Registry look-up: pick a match to fill in the code and the name. */
  var lookup = document.getElementById("lookup");
  var results = document.getElementById("lookup-results");
  var lookupStatus = document.getElementById("lookup-status");
  var searching = null;
  lookup.addEventListener("input", function () {
    window.clearTimeout(searching);
    searching = window.setTimeout(function () {
      var q = lookup.value.trim();
      results.textContent = "";
      if (q.length < 2) { lookupStatus.textContent = ""; return; }
      Yangpu.getJSON(form.getAttribute("data-lookup-url") + "?q=" + encodeURIComponent(q)).then(function (body) {
        results.textContent = "";
        lookupStatus.textContent = body.items.length ? msg("found").replace("{n}", body.items.length) : msg("none");
        body.items.forEach(function (e) {
          var li = document.createElement("li");
          var b = document.createElement("button");
          b.type = "button";
          var name = document.createElement("span");
          name.textContent = e.name;
          var small = document.createElement("small");
          small.textContent = e.uscc + " · " + e.street_name + (e.key_enterprise ? " · " + msg("key") : "");
          b.appendChild(name);
          b.appendChild(small);
          b.addEventListener("click", function () {
            fill({ "enterprise.uscc": e.uscc, "enterprise.name": e.name });
            results.textContent = "";
            lookupStatus.textContent = "";
            localStorage.setItem(WORKING, JSON.stringify(fields()));
            form.querySelector('[name="enterprise.contact_name"]').focus();
          });
          li.appendChild(b);
          results.appendChild(li);
        });
      }, function () { lookupStatus.textContent = msg("offline-lookup"); });
    }, 250);
  });

  // A reload keeps what was being typed, unless the server just rendered the form with errors.
  var kept = localStorage.getItem(WORKING);
  if (kept && !form.querySelector("[data-error-for]:not([hidden])")) {
    try { fill(JSON.parse(kept)); } catch (e) { localStorage.removeItem(WORKING); }
  }
  if (!form.elements.idempotency_key.value) { form.elements.idempotency_key.value = newKey(); }
  render();
  flush();
  window.addEventListener("online", flush);
  window.setInterval(flush, 15000);
}());
