/* A photo or scan for the demand being filed (issue 13 item 7), kept apart from the form's own scripts:
   the file input has no name, so the draft the form sends never carries it. Once the filing answer comes
   back with the demand's id (any POST to the form's action answered 200/201 with JSON {id}), the chosen file
   is sent to /grid/demands/<id>/attachments with the session cookie and the CSRF header.
   Photos are not queued offline: when the filing does not reach the server, the photo is dropped and the
   worker is told to add it from the demand's page once it is filed. Every word comes from data-msg-*. */
(function () {
  "use strict";
  var input = document.getElementById("attach-file");
  var form = document.getElementById("demand-form");
  if (!input || !form || !window.fetch || !window.FormData) { return; }
  var keep = document.getElementById("attach-keep-location");
  var box = document.getElementById("attach-status");
  var action = new URL(form.getAttribute("action"), location.href).pathname;
  var pending = null;                                    // the file chosen for the next demand filed

  function msg(name) { return input.getAttribute("data-msg-" + name) || ""; }
  function say(text, tone) {
    if (!box) { return; }
    box.textContent = text;
    box.className = "notice" + (tone ? " " + tone : "");
    box.hidden = !text;
  }
  function csrf() {
    var field = form.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    pending = null;
    say("");
    if (!file) { return; }
    if (file.size > Number(input.getAttribute("data-max-bytes"))) {
      input.value = "";
      say(msg("too-large"), "bad");
      return;
    }
    pending = { file: file, keep: !!(keep && keep.checked) };
  });
  if (keep) { keep.addEventListener("change", function () { if (pending) { pending.keep = keep.checked; } }); }

  function upload(demandId, chosen) {
    var body = new FormData();
    body.append("file", chosen.file, chosen.file.name);
    if (chosen.keep) { body.append("keep_location", "true"); }
    say(msg("sending"));
    return fetch(action + "/" + encodeURIComponent(demandId) + "/attachments", {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "Accept": "application/json" }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (answer) {
        if (r.status === 201) { say(msg("sent"), "ok"); return; }
        say(r.status === 413 ? msg("too-large") : (answer.message || msg("failed")), "bad");
      });
    }, function () { say(msg("failed"), "bad"); });
  }

  function isFiling(resource, init) {
    var url = typeof resource === "string" ? resource : (resource && resource.url) || "";
    var method = (init && init.method) || (resource && resource.method) || "GET";
    return method.toUpperCase() === "POST" && new URL(url, location.href).pathname === action;
  }

  function drop() { pending = null; input.value = ""; if (keep) { keep.checked = false; } }

  var original = window.fetch;
  window.fetch = function (resource, init) {
    var result = original.apply(this, arguments);
    if (!pending || pending.sending || !isFiling(resource, init)) { return result; }
    var chosen = pending;
    chosen.sending = true;                               // one photo, one demand
    result.then(function (r) {
      chosen.sending = false;
      if (r.status === 200 || r.status === 201) {
        return r.clone().json().then(function (answer) {
          if (pending === chosen) { drop(); }
          if (answer && answer.id) { return upload(answer.id, chosen); }
          say(msg("later"), "warn");
        });
      }
      if (r.status >= 500 || r.status === 429) { drop(); say(msg("later"), "warn"); }
      /* refused (fields to fix, sign-in): the photo stays chosen for the next try */
    }).catch(function () {
      chosen.sending = false;
      drop();
      say(msg("later"), "warn");
    });
    return result;
  };
}());
