/* The grid worker's form: checked on the phone in one round (validation.js: the server's rules and words),
   then kept as a draft (drafts.js) and sent with its Idempotency-Key until the server has it; a result
   screen then says what happened. A refused draft is edited in place: it stays in the queue, under the same
   key, until the server stores it or the worker deletes it. What is being typed survives a reload. */
(function () {
  "use strict";
  var form = document.getElementById("demand-form");
  var Drafts = window.YangpuDrafts;
  if (!form || !Drafts || !window.YangpuChecks) { return; }
  var user = form.getAttribute("data-user");
  var WORKING = "yangpu.form." + user;      // what is being typed (with the key of a draft being fixed)
  var ENTERPRISE = ["enterprise.uscc", "enterprise.name", "enterprise.contact_name", "enterprise.contact_phone"];
  var rules = JSON.parse(form.getAttribute("data-rules") || "{}");
  var result = document.getElementById("result");
  var editing = null;                       // the key of the queued draft the form holds, if any
  var lastFiled = null;                     // what 继续登记 keeps: the enterprise

  function msg(name) { return form.getAttribute("data-msg-" + name) || Drafts.msg(name); }
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
      form.querySelectorAll('[name="' + name + '"]').forEach(function (el) {
        if (el.type === "radio") { el.checked = el.value === values[name]; } else { el.value = values[name]; }
      });
    });
  }
  function keep() { localStorage.setItem(WORKING, JSON.stringify({ fields: fields(), editing: editing })); }

  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach(function (p) {
      p.hidden = true;
      p.textContent = "";
      var field = form.querySelector('[name="' + p.getAttribute("data-error-for") + '"]');
      if (field && field.type !== "radio") { field.removeAttribute("aria-invalid"); }
      if (p.parentElement) { p.parentElement.classList.remove("has-error"); }
    });
    var box = document.getElementById("form-problem");
    box.hidden = true;
    box.textContent = "";
  }

  /* Every problem beside its field at once; focus on the first in form order (not the first reported). */
  function showErrors(errors, message) {
    clearErrors();
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
    });
    var box = document.getElementById("form-problem");
    box.textContent = [message || msg("invalid")].concat(loose).join(" ");
    box.hidden = false;
    var first = Array.prototype.filter.call(form.elements, function (el) {
      var p = form.querySelector('[data-error-for="' + el.name + '"]');
      return el.name && p && !p.hidden;
    })[0];
    if (first) { first.focus(); } else { box.focus(); }
  }

  /* The codes the form offers (the server refuses any other). */
  function choices() {
    var out = {};
    ["category", "complexity"].forEach(function (name) {
      out[name] = Array.prototype.map.call(form.querySelectorAll('[name="' + name + '"] option, [name="' + name + '"][type=radio]'),
        function (el) { return el.value; }).filter(function (v) { return v; });
    });
    return out;
  }

  /* The checks the server would make, made here first, in the server's words. */
  function check(values) {
    var english = YangpuChecks.demand(values, choices());
    var out = {};
    Object.keys(english).forEach(function (name) {
      out[name] = english[name].map(function (m) { return YangpuChecks.localize(m, rules); })
        .filter(function (m, i, all) { return all.indexOf(m) === i; });
    });
    return out;
  }

  function startOver(keepEnterprise) {
    var kept = {};
    if (keepEnterprise && lastFiled) { ENTERPRISE.forEach(function (n) { kept[n] = lastFiled[n] || ""; }); }
    form.reset();
    fill(kept);
    form.elements.idempotency_key.value = newKey();
    form.elements.reported_at.value = "";
    editing = null;
    clearErrors();
    localStorage.removeItem(WORKING);
    Drafts.render();
  }

  // --- the result screen ---------------------------------------------------------------------------------
  function showResult(kind, draft, body) {
    lastFiled = draft.fields;
    var ok = kind === "stored";
    result.className = "result notice " + (ok ? "ok" : "warn");
    result.querySelector("h2").textContent = ok ? msg("filed") : msg("kept");
    result.querySelector("[data-part=title]").textContent = draft.fields.title || "";
    var facts = result.querySelector("[data-part=facts]");
    facts.hidden = !ok;
    var view = result.querySelector("[data-part=view]");
    if (ok) {
      result.querySelector("[data-part=number]").textContent = body.number || body.id;
      result.querySelector("[data-part=officer]").textContent = body.officer || msg("assigning");
      result.querySelector("[data-part=deadline]").textContent = body.deadline || msg("assigning");
      view.href = body.url;
    } else {
      view.href = form.getAttribute("data-mine-url");
    }
    result.querySelector("[data-part=note]").textContent = ok ? (body.warnings || []).join(" ") : msg("kept-note");
    form.hidden = true;
    result.hidden = false;
    result.scrollIntoView({ block: "start" });
    result.querySelector("h2").focus();
    if (ok && !body.officer && body.url) { follow(body.url, 0); }
  }

  /* Who it went to and by when: routing assigns within seconds; ask the demand page a few times. */
  function follow(url, round) {
    if (round > 20 || result.hidden) { return; }
    window.setTimeout(function () {
      Yangpu.getJSON(url).then(function (d) {
        if (result.hidden) { return; }
        if (d.deadline) { result.querySelector("[data-part=deadline]").textContent = d.deadline; }
        if (d.officer) { result.querySelector("[data-part=officer]").textContent = d.officer; return; }
        follow(url, round + 1);
      }, function () { follow(url, round + 1); });
    }, 1500);
  }

  result.querySelector("[data-part=again]").addEventListener("click", function () {
    result.hidden = true;
    form.hidden = false;
    startOver(true);
    var first = form.querySelector('[name="' + (lastFiled && lastFiled["enterprise.uscc"] ? "category" : "enterprise.uscc") + '"]');
    form.scrollIntoView({ block: "start" });
    if (first) { first.focus(); }
  });

  // --- editing a refused draft in place ------------------------------------------------------------------
  function edit(key) {
    var draft = Drafts.find(key);
    if (!draft) { return; }
    result.hidden = true;
    form.hidden = false;
    form.reset();
    fill(draft.fields);
    editing = key;
    keep();                                 // the working copy names the draft first, then the queue shows it
    Drafts.render();
    showErrors(draft.errors, draft.message);
  }

  window.YangpuGrid = {
    editingKey: function () { return editing; },
    edit: edit,
    dropped: function (key) { if (key === editing) { startOver(false); } },
    onSynced: function () { /* the status line says it; the form is untouched */ }
  };

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var values = fields();
    var problems = check(values);
    if (Object.keys(problems).length) { showErrors(problems); return; }
    clearErrors();
    // SLA clocks start when the enterprise raised it, not when the phone found a network.
    values.reported_at = values.reported_at || new Date().toISOString();
    values.idempotency_key = values.idempotency_key || newKey();
    var previous = Drafts.find(values.idempotency_key);
    if (previous && previous.status === 409) {          // that key already filed something else: a new one
      Drafts.remove(values.idempotency_key);
      values.idempotency_key = newKey();
    }
    var draft = { key: values.idempotency_key, fields: values, savedAt: (previous && previous.savedAt) || Date.now(),
                  state: "pending" };
    Drafts.upsert(draft);                   // on the phone before anything is sent
    editing = draft.key;
    keep();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    Drafts.say(msg("sending"));
    Drafts.send(draft).then(function (res) {
      button.disabled = false;
      Drafts.say("");
      if (res.outcome === "stored") {
        showResult("stored", draft, res.body);
        editing = null;
        localStorage.removeItem(WORKING);
        return;
      }
      if (res.outcome === "refused") { showErrors(res.body.errors, res.body.message); Drafts.render(); return; }
      if (res.outcome === "signin") { return; }           // kept; drafts.js asked for a new sign-in
      showResult("kept", draft, null);                    // offline (or busy): it goes out by itself
      editing = null;
      localStorage.removeItem(WORKING);
    });
  });

  var typing = null;
  form.addEventListener("input", function () {
    window.clearTimeout(typing);
    typing = window.setTimeout(keep, 300);
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
            keep();
            form.querySelector('[name="enterprise.contact_name"]').focus();
          });
          li.appendChild(b);
          results.appendChild(li);
        });
      }, function () { lookupStatus.textContent = msg("offline-lookup"); });
    }, 250);
  });

  // A reload keeps what was being typed (and which draft it is), unless the server just rendered errors.
  // A page the server rendered without errors gets a fresh key: the service worker may serve the same
  // copy of this page many times offline, and two demands must never share a key.
  var asked = new URLSearchParams(location.search).get("draft");
  var kept = null;
  var serverErrors = !!form.querySelector("[data-error-for]:not([hidden])");
  try { kept = JSON.parse(localStorage.getItem(WORKING) || "null"); } catch (e) { localStorage.removeItem(WORKING); }
  if (!serverErrors) { form.elements.idempotency_key.value = newKey(); }
  if (asked && Drafts.find(asked)) {
    edit(asked);
  } else if (kept && !serverErrors) {
    fill(kept.fields || kept);
    editing = kept.editing && Drafts.find(kept.editing) ? kept.editing : null;
    var fixing = editing && Drafts.find(editing);
    if (fixing && fixing.state === "invalid") { showErrors(fixing.errors, fixing.message); }
  }
  if (!form.elements.idempotency_key.value) { form.elements.idempotency_key.value = newKey(); }
}());
