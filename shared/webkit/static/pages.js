/* What every page's script shares: the CSRF header for POSTs, clocks that count down, live refresh.
   Words come from the page (data-* attributes rendered in the user's language), never from here. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /* POST form fields to a page endpoint; resolves with {status, body} or rejects when offline. */
  function post(url, fields, headers) {
    var h = { "Accept": "application/json", "X-CSRFToken": csrfToken() };
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(url, { method: "POST", headers: h, body: new URLSearchParams(fields), credentials: "same-origin" })
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (body) {
          return { status: resp.status, body: body };
        });
      });
  }

  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (resp) { if (!resp.ok) { throw new Error(String(resp.status)); } return resp.json(); });
  }

  /* "2 days 03:04:05": days in the page's language, the rest as a clock. */
  function formatLeft(seconds, lang) {
    var s = Math.floor(Math.abs(seconds));
    var days = Math.floor(s / 86400);
    var rest = s % 86400;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var hms = pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor((rest % 3600) / 60)) + ":" + pad(rest % 60);
    if (!days) { return hms; }
    var dayText;
    try {
      dayText = new Intl.NumberFormat(lang, { style: "unit", unit: "day", unitDisplay: "long" }).format(days);
    } catch (e) { dayText = days + "d"; }
    return dayText + " " + hms;
  }

  /* Business time as the server words it (shared/webkit/pages/clocks.py amount()): working days to a tenth
     (rounded down) from one day up, h:mm under a day, mm:ss under an hour, seconds for a seconds-long target. */
  function formatAmount(seconds, perDay, secondsOnly, el) {
    var s = Math.abs(seconds);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var unit, n;
    if (secondsOnly) {
      unit = "s"; n = String(Math.floor(s));
    } else if (s >= perDay) {
      var tenths = Math.floor(s * 10 / perDay);
      n = tenths % 10 === 0 ? String(tenths / 10) : Math.floor(tenths / 10) + "." + (tenths % 10);
      unit = n === "1" ? "day" : "days";
    } else {
      var whole = Math.floor(s);
      if (whole >= 3600) { unit = "hm"; n = Math.floor(whole / 3600) + ":" + pad(Math.floor((whole % 3600) / 60)); }
      else { unit = "ms"; n = pad(Math.floor(whole / 60)) + ":" + pad(whole % 60); }
    }
    return el.getAttribute("data-unit-" + unit).replace("{n}", n);
  }

  /* Each clock counts down from what the server computed when it rendered (the device's own clock does not
     matter), and only while business time runs: the server says whether it runs now (data-working) and for
     how many seconds that holds (data-window-seconds); outside it the value stays, marked as paused. Polled
     regions bring fresh values. Colour and words follow the urgency in business time. */
  function tick() {
    var lang = document.documentElement.lang || "zh-Hans-CN";
    document.querySelectorAll("[data-business-left]").forEach(function (el) {
      if (!el.hasAttribute("data-base")) { el.setAttribute("data-base", String(Date.now())); }
      var elapsed = (Date.now() - parseFloat(el.getAttribute("data-base"))) / 1000;
      var windowSeconds = parseFloat(el.getAttribute("data-window-seconds") || "0");
      var working = el.getAttribute("data-working") === "1";
      var ran = working ? Math.min(elapsed, windowSeconds) : Math.max(0, elapsed - windowSeconds);
      var runsNow = working ? elapsed < windowSeconds : elapsed >= windowSeconds;
      var left = parseFloat(el.getAttribute("data-business-left")) - ran;
      var soon = parseFloat(el.getAttribute("data-soon-seconds") || "0");
      var urgency = left < 0 ? "overdue" : (left < soon ? "soon" : "ok");
      var out = el.querySelector(".left");
      var word = el.querySelector(".urgency-word");
      var note = el.querySelector(".paused-note");
      if (out) {
        out.textContent = el.getAttribute(left < 0 ? "data-overdue-label" : "data-left-label").replace("{t}",
          formatAmount(left, parseFloat(el.getAttribute("data-seconds-per-day")),
                       el.getAttribute("data-seconds-only") === "1", el));
      }
      if (word) { word.textContent = el.getAttribute("data-word-" + urgency); }
      if (note) { note.hidden = runsNow; }
      el.classList.remove("urgency-ok", "urgency-soon", "urgency-overdue");
      el.classList.add("urgency-" + urgency);
    });
    /* Wall-clock countdowns ([data-seconds-left]) of pages that render their own. */
    document.querySelectorAll("[data-seconds-left]").forEach(function (el) {
      if (!el.hasAttribute("data-base")) { el.setAttribute("data-base", String(Date.now())); }
      var base = parseFloat(el.getAttribute("data-base"));
      var left = parseFloat(el.getAttribute("data-seconds-left")) - (Date.now() - base) / 1000;
      var soon = parseFloat(el.getAttribute("data-soon-seconds") || "0");
      var out = el.querySelector(".left");
      var word = el.querySelector(".urgency-word");
      var urgency = left < 0 ? "overdue" : (left < soon ? "soon" : "ok");
      if (out) {
        out.textContent = el.getAttribute(left < 0 ? "data-overdue-label" : "data-left-label")
          .replace("{t}", formatLeft(left, lang));
      }
      if (word) { word.textContent = el.getAttribute("data-word-" + urgency); }
      el.classList.remove("urgency-ok", "urgency-soon", "urgency-overdue");
      el.classList.add("urgency-" + urgency);
    });
  }

  /* [data-poll-url] regions are replaced by the server's fresh rendering every data-poll-seconds. */
  function poll(region) {
    var url = region.getAttribute("data-poll-url");
    var every = parseFloat(region.getAttribute("data-poll-seconds") || "10") * 1000;
    function again() {
      fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (resp) { if (!resp.ok) { throw new Error(String(resp.status)); } return resp.text(); })
        .then(function (html) {
          if (html !== region.getAttribute("data-last")) {
            region.innerHTML = html;
            region.setAttribute("data-last", html);
            tick();
          }
        })
        .catch(function () { /* offline or signed out: keep what is shown, try again later */ })
        .then(function () { window.setTimeout(again, every); });
    }
    window.setTimeout(again, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    if (document.querySelector("[data-seconds-left], [data-business-left], [data-poll-url]")) {
      window.setInterval(tick, 1000);
    }
    document.querySelectorAll("[data-poll-url]").forEach(poll);
    /* Nobody is signed in on the sign-in page: no copy of anyone's pages stays on this browser. */
    if (location.pathname === "/signin" && window.caches) {
      caches.keys().then(function (names) {
        names.filter(function (n) { return n.indexOf("yangpu-") === 0; }).forEach(function (n) { caches.delete(n); });
      }).catch(function () { /* nothing cached */ });
    }
    /* Signing out asks first, then forgets this browser's copies of the pages (the grid worker's offline
       app keeps them in Cache Storage) before the form goes; drafts not yet filed stay. */
    document.querySelectorAll("form[data-signout]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (!window.confirm(form.getAttribute("data-signout"))) { return; }
        var clear = window.caches ? caches.keys().then(function (names) {
          return Promise.all(names.filter(function (n) { return n.indexOf("yangpu-") === 0; })
            .map(function (n) { return caches.delete(n); }));
        }) : Promise.resolve();
        clear.catch(function () { /* nothing cached */ }).then(function () { form.submit(); });
      });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
      });
    });
  });

  window.Yangpu = { csrfToken: csrfToken, post: post, getJSON: getJSON, formatLeft: formatLeft, tick: tick };
}());
