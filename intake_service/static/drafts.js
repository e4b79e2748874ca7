/* The grid worker's drafts and the offline app, on every grid page (新登记, 我的诉求, a demand).

   Drafts live in localStorage (yangpu.drafts.<user>) with their Idempotency-Key. A draft leaves the queue
   only when the server stored it (201, or 200 for a replay of the same key) or when the worker deletes it
   after confirming: a refusal marks it "needs fixing", a 401 keeps it and asks for a new sign-in, no network
   keeps it. Whichever grid page is open sends the queue: at load, on `online`, every 15 s, and when the
   service worker relays a Background Sync. The page also registers the service worker (/grid/sw.js) and
   offers its update when a new version is deployed. Words come from #grid-app's data-msg-* attributes. */
(function () {
  "use strict";
  var app = document.getElementById("grid-app");
  if (!app || !window.fetch || !window.localStorage) { return; }
  var user = app.getAttribute("data-user");
  var QUEUE = "yangpu.drafts." + user;
  var SYNC_TAG = "yangpu-drafts";
  var statusBox = document.getElementById("sync-status");
  var listeners = [];
  var inflight = {};

  function msg(name) { return app.getAttribute("data-msg-" + name) || ""; }
  function load() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function save(list) {
    localStorage.setItem(QUEUE, JSON.stringify(list));
    listeners.forEach(function (cb) { cb(list); });
    render();
  }
  function find(key) { return load().filter(function (d) { return d.key === key; })[0] || null; }
  /* Replace in place (same position), or add at the end. */
  function upsert(draft) {
    var list = load();
    var at = list.map(function (d) { return d.key; }).indexOf(draft.key);
    if (at >= 0) { list[at] = draft; } else { list.push(draft); }
    save(list);
  }
  function remove(key) { save(load().filter(function (d) { return d.key !== key; })); }

  function say(text, kind, link, linkText) {
    if (!statusBox) { return; }
    statusBox.textContent = text;
    statusBox.className = "notice" + (kind ? " " + kind : "");
    statusBox.hidden = !text;
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = linkText || msg("view");
      statusBox.appendChild(document.createTextNode(" "));
      statusBox.appendChild(a);
    }
  }

  function refreshCsrf() {
    return Yangpu.getJSON("/pages/csrf").then(function (body) {
      document.querySelector('meta[name="csrf-token"]').setAttribute("content", body.csrf_token);
    });
  }

  function askForSync() {
    if (!("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.sync) { return reg.sync.register(SYNC_TAG); }
    }).catch(function () { /* no Background Sync: `online` and page loads send the queue */ });
  }

  /* Send one draft. Resolves with {outcome: "stored"|"refused"|"signin"|"offline"|"busy", status, body}. */
  function send(draft, retried) {
    if (inflight[draft.key] && !retried) { return Promise.resolve({ outcome: "busy" }); }
    inflight[draft.key] = true;
    return Yangpu.post(app.getAttribute("data-file-url"), draft.fields, { "Idempotency-Key": draft.key })
      .then(function (r) {
        delete inflight[draft.key];
        if (r.status === 200 || r.status === 201) {       // the server has it: now, and only now, it may go
          remove(draft.key);
          return { outcome: "stored", status: r.status, body: r.body };
        }
        if (r.status === 401) {                            // kept; the worker signs in again
          askSignin();
          return { outcome: "signin", status: 401, body: r.body };
        }
        if (r.status === 400 && !retried) {               // CSRF token too old: fetch a fresh one, once
          inflight[draft.key] = true;
          return refreshCsrf().then(function () { return send(draft, true); }, function (err) {
            delete inflight[draft.key];
            // No sign-in left (the CSRF token dies with it): kept, and the worker is asked to sign in.
            if (err && err.message === "401") { askSignin(); return { outcome: "signin", status: 401 }; }
            return { outcome: "offline" };
          });
        }
        if (r.status >= 500 || r.status === 429 || r.status === 400) {  // not a verdict on the draft: try later
          return { outcome: "offline", status: r.status };
        }
        var kept = find(draft.key) || draft;               // refused: kept, marked, for the worker to fix
        kept.state = "invalid";
        kept.status = r.status;
        kept.errors = (r.body && r.body.errors) || {};
        kept.message = (r.body && r.body.message) || msg("invalid");
        upsert(kept);
        return { outcome: "refused", status: r.status, body: r.body };
      }, function () {
        delete inflight[draft.key];                        // no connection: it stays queued
        askForSync();
        return { outcome: "offline" };
      });
  }

  function askSignin() {
    var next = encodeURIComponent(location.pathname + location.search);
    say(msg("signin"), "warn", "/signin?next=" + next, msg("signin-link"));
  }

  var flushing = null;
  /* Send every waiting draft, one after another; tells the worker what happened in words they can repeat. */
  function flush() {
    if (flushing) { return flushing; }
    var waiting = load().filter(function (d) { return d.state === "pending"; });
    if (!waiting.length) { return Promise.resolve(); }
    var sent = [];
    flushing = waiting.reduce(function (chain, draft) {
      return chain.then(function (stop) {
        if (stop) { return stop; }
        return send(draft).then(function (res) {
          if (res.outcome === "stored") { sent.push({ title: draft.fields.title, url: res.body.url }); }
          return res.outcome === "signin" || res.outcome === "offline";
        });
      });
    }, Promise.resolve(false)).then(function () {
      flushing = null;
      if (sent.length === 1) {
        say(msg("synced-one").replace("{title}", sent[0].title || "—"), "ok", sent[0].url);
      } else if (sent.length > 1) {
        say(msg("synced-many").replace("{n}", String(sent.length)), "ok", app.getAttribute("data-mine-url"));
      }
      if (sent.length && window.YangpuGrid && window.YangpuGrid.onSynced) { window.YangpuGrid.onSynced(sent); }
    });
    return flushing;
  }

  function when(ms) {
    return new Date(ms).toLocaleString(document.documentElement.lang, { timeZone: "Asia/Shanghai" });
  }

  /* The waiting and refused drafts, on whichever grid page shows #drafts. */
  function render() {
    var section = document.getElementById("drafts-section");
    var ul = document.getElementById("drafts");
    if (!section || !ul) { return; }
    var list = load();
    var editing = window.YangpuGrid && window.YangpuGrid.editingKey ? window.YangpuGrid.editingKey() : null;
    section.hidden = list.length === 0;
    ul.textContent = "";
    list.forEach(function (draft) {
      var li = document.createElement("li");
      li.className = "card draft" + (draft.state === "invalid" ? " needs-fixing" : "");
      li.setAttribute("data-draft-key", draft.key);
      var h = document.createElement("h3");
      h.textContent = draft.fields.title || "—";
      var meta = document.createElement("p");
      meta.className = "meta";
      var state = draft.key === editing ? msg("editing") : (draft.state === "invalid" ? msg("fix") : msg("pending"));
      var pill = document.createElement("span");
      pill.className = "pill";
      pill.textContent = state;
      meta.appendChild(pill);
      meta.appendChild(document.createTextNode(" " + (draft.fields["enterprise.name"] || draft.fields["enterprise.uscc"] || "")
        + " · " + when(draft.savedAt)));
      li.appendChild(h);
      li.appendChild(meta);
      if (draft.state === "invalid" && draft.message) {
        var why = document.createElement("p");
        why.className = "error";
        // What to fix, not only that something is wrong: each field's problem after the summary.
        why.textContent = [draft.message].concat(Object.keys(draft.errors || {}).map(function (name) {
          return [].concat(draft.errors[name]).join(" ");
        })).join(" ");
        li.appendChild(why);
      }
      var actions = document.createElement("div");
      actions.className = "actions";
      if (draft.state === "invalid" && draft.key !== editing) {
        var edit = document.createElement("a");
        edit.className = "button";
        edit.href = app.getAttribute("data-form-url") + "?draft=" + encodeURIComponent(draft.key);
        edit.textContent = msg("edit");
        edit.addEventListener("click", function (ev) {
          if (window.YangpuGrid && window.YangpuGrid.edit) { ev.preventDefault(); window.YangpuGrid.edit(draft.key); }
        });
        actions.appendChild(edit);
      }
      var drop = document.createElement("button");
      drop.type = "button";
      drop.className = "danger";
      drop.textContent = msg("discard");
      drop.addEventListener("click", function () {
        if (window.confirm(msg("discard-confirm").replace("{title}", draft.fields.title || "—"))) {
          remove(draft.key);
          if (window.YangpuGrid && window.YangpuGrid.dropped) { window.YangpuGrid.dropped(draft.key); }
        }
      });
      actions.appendChild(drop);
      li.appendChild(actions);
      ul.appendChild(li);
    });
  }

  // --- the service worker: offline pages, Background Sync relay, updates ---------------------------------
  function offerUpdate(reg) {
    var bar = document.getElementById("update-bar");
    if (!bar || !reg.waiting || !navigator.serviceWorker.controller) { return; }
    bar.hidden = false;
    bar.querySelector("button").onclick = function () { reg.waiting.postMessage({ type: "skip-waiting" }); };
  }

  function registerWorker() {
    if (!("serviceWorker" in navigator)) { return; }
    var reloading = false;
    navigator.serviceWorker.addEventListener("controllerchange", function () {
      var bar = document.getElementById("update-bar");
      if (bar && !bar.hidden && !reloading) { reloading = true; location.reload(); }
    });
    navigator.serviceWorker.addEventListener("message", function (ev) {
      if (ev.data && ev.data.type === "flush") { flush(); }
    });
    navigator.serviceWorker.register(app.getAttribute("data-sw-url"), { scope: app.getAttribute("data-sw-scope") })
      .then(function (reg) {
        offerUpdate(reg);
        reg.addEventListener("updatefound", function () {
          var incoming = reg.installing;
          if (!incoming) { return; }
          incoming.addEventListener("statechange", function () { if (incoming.state === "installed") { offerUpdate(reg); } });
        });
        if (navigator.onLine) { reg.update().catch(function () { /* offline: keep this version */ }); }
      }).catch(function () { /* no service worker (plain http on a real host): pages need the network */ });
  }

  window.YangpuDrafts = { load: load, find: find, upsert: upsert, remove: remove, send: send, flush: flush,
                          render: render, say: say, msg: msg, askForSync: askForSync,
                          onChange: function (cb) { listeners.push(cb); } };

  document.addEventListener("DOMContentLoaded", function () {
    render();
    registerWorker();
    flush();
    window.addEventListener("online", flush);
    window.setInterval(flush, 15000);
  });
}());
