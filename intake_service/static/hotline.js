/* The 12345 hotline desk's call form: find the enterprise by name or credit code (the registry look-up the
   grid form uses) or by the phone it calls from (earlier demands), and fill in the code, name and street.
   Words come from the form's data-msg-* attributes. */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("call-form");
    if (!form) { return; }
    var lookup = document.getElementById("lookup");
    var results = document.getElementById("lookup-results");
    var status = document.getElementById("lookup-status");
    var msg = function (name) { return form.getAttribute("data-msg-" + name) || ""; };
    var field = function (name) { return form.querySelector('[name="' + name + '"]'); };
    var searching = null;

    /* Only digits and phone punctuation, with enough digits to be a number someone calls from. */
    function looksLikePhone(q) {
      return /^[+\d\s()\-]+$/.test(q) && q.replace(/\D/g, "").length >= 7;
    }

    function pick(e, q) {
      field("enterprise.uscc").value = e.uscc;
      field("enterprise.name").value = e.name;
      if (e.street) { field("street").value = e.street; }
      if (e.by_phone) {
        if (!field("enterprise.contact_phone").value) { field("enterprise.contact_phone").value = q; }
        if (e.contact_name && !field("enterprise.contact_name").value) {
          field("enterprise.contact_name").value = e.contact_name;
        }
      }
      results.textContent = "";
      status.textContent = "";
      field(field("enterprise.contact_name").value ? "category" : "enterprise.contact_name").focus();
    }

    function show(items, q) {
      results.textContent = "";
      status.textContent = items.length ? msg("found").replace("{n}", items.length) : msg("none");
      items.forEach(function (e) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        var name = document.createElement("span");
        name.textContent = e.name;
        var small = document.createElement("small");
        small.textContent = e.uscc + " · " + e.street_name + (e.key_enterprise ? " · " + msg("key") : "") +
          (e.by_phone ? " · " + msg("by-phone") : "");
        b.appendChild(name);
        b.appendChild(small);
        b.addEventListener("click", function () { pick(e, q); });
        li.appendChild(b);
        results.appendChild(li);
      });
    }

    lookup.addEventListener("input", function () {
      window.clearTimeout(searching);
      searching = window.setTimeout(function () {
        var q = lookup.value.trim();
        results.textContent = "";
        if (q.length < 2) { status.textContent = ""; return; }
        var asks = [Yangpu.getJSON(form.getAttribute("data-lookup-url") + "?q=" + encodeURIComponent(q))];
        if (looksLikePhone(q)) {
          asks.push(Yangpu.getJSON(form.getAttribute("data-phone-url") + "?phone=" + encodeURIComponent(q))
            .then(function (body) {
              body.items.forEach(function (e) { e.by_phone = true; });
              return body;
            }));
        }
        Promise.all(asks).then(function (answers) {
          if (lookup.value.trim() !== q) { return; }  /* typed on meanwhile: a newer search follows */
          var seen = {};
          var items = [];
          answers.slice().reverse().forEach(function (body) {  /* phone matches first: they name the caller */
            body.items.forEach(function (e) {
              if (!seen[e.uscc]) { seen[e.uscc] = true; items.push(e); }
            });
          });
          show(items, q);
        }, function () { status.textContent = msg("offline-lookup"); });
      }, 250);
    });

    /* A refusal rendered by the server: focus the first field to fix (or the message). */
    var firstBad = form.querySelector('[aria-invalid="true"]');
    var problem = document.getElementById("form-problem");
    if (firstBad) { firstBad.focus(); } else if (problem && !problem.hidden) { problem.focus(); }
  });
}());
