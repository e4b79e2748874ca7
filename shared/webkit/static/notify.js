/* The officer's notices as browser notifications (issue 18). The notices region ([data-notices]) is polled
   by pages.js; each unread notice carries data-notice (its key), data-notice-title, -body and -url, in the
   user's language. A notice is shown once per browser (its key is remembered), and only if the officer allowed
   notifications: the page asks only when the officer presses the button (#notify-ask), never by itself. */
(function () {
  "use strict";

  var REMEMBERED = "yangpu-notified";

  function remembered() {
    try { return JSON.parse(window.localStorage.getItem(REMEMBERED) || "[]"); } catch (e) { return []; }
  }

  function remember(keys) {
    try { window.localStorage.setItem(REMEMBERED, JSON.stringify(keys.slice(-200))); } catch (e) { /* private */ }
  }

  function allowed() {
    return "Notification" in window && window.Notification.permission === "granted";
  }

  function announce(region) {
    if (!allowed()) { return; }
    var seen = remembered();
    region.querySelectorAll("[data-notice]").forEach(function (el) {
      var key = el.getAttribute("data-notice");
      if (seen.indexOf(key) !== -1) { return; }
      seen.push(key);
      var url = el.getAttribute("data-notice-url");
      try {
        var shown = new window.Notification(el.getAttribute("data-notice-title"), {
          body: el.getAttribute("data-notice-body"), tag: key, lang: document.documentElement.lang });
        shown.onclick = function () { window.focus(); if (url) { window.location.href = url; } };
      } catch (e) { /* a browser that only notifies from a service worker: the page still shows it */ }
    });
    remember(seen);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var region = document.querySelector("[data-notices]");
    if (!region) { return; }
    var ask = document.getElementById("notify-ask");
    if (ask && "Notification" in window && window.Notification.permission === "default") {
      ask.hidden = false;
      ask.addEventListener("click", function () {
        window.Notification.requestPermission().then(function (answer) {
          ask.hidden = true;
          if (answer === "granted") { announce(region); }
        });
      });
    }
    announce(region);
    new MutationObserver(function () { announce(region); }).observe(region, { childList: true, subtree: true });
  });
})();
