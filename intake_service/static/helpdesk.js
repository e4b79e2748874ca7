/* The help desk's desk: ticks the first-answer clocks in seconds, turns a row into an alert at 80 % of the
   minute (colour and a word, and a short beep once the agent has turned the sound on), answers a demand in
   one click, and finds an enterprise in the registry on the form. The list itself is refreshed by pages.js
   (data-poll-url); words come from the page's data-* attributes, never from here. */
(function () {
  "use strict";

  var desk = document.getElementById("helpdesk");
  var offset = 0; // server time minus this device's time: the device's own clock does not matter
  var answered = {}; // demand id -> true: answered here, until the refresh drops the row
  var alerted = {}; // demand id -> true: beeped once already
  var audio = null;
  var soundOn = false;
  var beeps = 0;
  var SOUND_KEY = "yangpu.helpdesk.sound";

  function serverNow() { return Date.now() + offset; }

  function msg(name) { return desk ? desk.getAttribute("data-msg-" + name) || "" : ""; }

  /* A short beep through the Web Audio API; browsers allow it only after the page had a gesture. */
  function beep() {
    if (!soundOn || !audio) { return; }
    try {
      var t = audio.currentTime;
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(t);
      osc.stop(t + 0.32);
      beeps += 1;
      if (desk) { desk.setAttribute("data-beeps", String(beeps)); }
    } catch (e) { /* no audio on this device: the colour and the word still tell */ }
  }

  function openAudio() {
    if (!audio) {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      audio = new Ctx();
    }
    if (audio.state === "suspended") { audio.resume(); }
  }

  /* A toggle button: its label stays, aria-pressed and its look tell the state; the status line says it. */
  function showSound(button, say) {
    button.setAttribute("aria-pressed", soundOn ? "true" : "false");
    button.classList.toggle("primary", soundOn);
    if (say) { document.getElementById("helpdesk-status").textContent = msg(soundOn ? "sound-on" : "sound-off"); }
  }

  function setupSound() {
    var button = document.getElementById("sound-toggle");
    if (!button) { return; }
    try { soundOn = window.localStorage.getItem(SOUND_KEY) === "on"; } catch (e) { soundOn = false; }
    showSound(button);
    button.addEventListener("click", function () {
      soundOn = !soundOn;
      try { window.localStorage.setItem(SOUND_KEY, soundOn ? "on" : "off"); } catch (e) { /* private mode */ }
      if (soundOn) { openAudio(); beep(); }
      showSound(button, true);
    });
    /* Kept on from an earlier visit: the browser lets the sound start at the agent's first gesture here. */
    function firstGesture() {
      if (soundOn) { openAudio(); }
      document.removeEventListener("pointerdown", firstGesture, true);
      document.removeEventListener("keydown", firstGesture, true);
    }
    document.addEventListener("pointerdown", firstGesture, true);
    document.addEventListener("keydown", firstGesture, true);
  }

  var ROW_CLASS = { ok: "urgency-ok", alert: "urgency-soon", overdue: "urgency-overdue", idle: "urgency-idle" };

  function setState(row, state) {
    row.setAttribute("data-state", state);
    Object.keys(ROW_CLASS).forEach(function (k) { row.classList.remove(ROW_CLASS[k]); });
    row.classList.add(ROW_CLASS[state]);
  }

  /* Each running clock: business seconds left = the instant they run out minus server time now, frozen at
     the end of the working window (the next refresh then shows the clock stopped). */
  function tick() {
    var now = serverNow();
    document.querySelectorAll(".hd-row").forEach(function (row) {
      var id = row.getAttribute("data-demand-id");
      var clock = row.querySelector("[data-zero-ms]");
      if (answered[id]) { markAnswered(row); return; }
      if (!clock) { return; }
      var pause = parseFloat(clock.getAttribute("data-pause-ms"));
      var left = (parseFloat(clock.getAttribute("data-zero-ms")) - Math.min(now, pause)) / 1000;
      left = Math.min(left, parseFloat(clock.getAttribute("data-target")));
      var alertLeft = parseFloat(clock.getAttribute("data-alert-left"));
      var state = left <= 0 ? "overdue" : (left <= alertLeft ? "alert" : "ok");
      var out = clock.querySelector(".left");
      var word = clock.querySelector(".urgency-word");
      var n = Math.ceil(Math.abs(left));
      out.textContent = clock.getAttribute(left > 0 ? "data-left-label" : "data-overdue-label").replace("{n}", String(n));
      word.textContent = now >= pause ? clock.getAttribute("data-word-paused") : clock.getAttribute("data-word-" + state);
      setState(row, state);
      if (state !== "ok" && !alerted[id]) {
        alerted[id] = true;
        beep();
      }
    });
  }

  function markAnswered(row) {
    if (row.getAttribute("data-answered") === "true") { return; }
    row.setAttribute("data-answered", "true");
    setState(row, "ok");
    var clock = row.querySelector(".hd-clock");
    if (clock) {
      clock.removeAttribute("role");
      var word = clock.querySelector(".urgency-word");
      var out = clock.querySelector(".left");
      var meta = clock.querySelector(".meta");
      if (word) { word.textContent = msg("answered"); }
      if (out) { out.textContent = ""; }
      if (meta) { meta.hidden = true; }
    }
    var button = row.querySelector(".hd-answer button");
    if (button) { button.disabled = true; button.textContent = msg("answered"); }
  }

  /* One click: routing's acknowledge through the page (the session's own rights); the row says what
     happened and stays, marked answered, until intake has learned it and the refresh drops it. */
  function answer(form) {
    var row = form.closest(".hd-row");
    var id = row.getAttribute("data-demand-id");
    var button = form.querySelector("button");
    var result = form.querySelector(".hd-result");
    button.disabled = true;
    result.textContent = msg("answering");
    window.Yangpu.post(form.getAttribute("action"), {}).then(function (r) {
      result.textContent = (r.body && r.body.message) || "";
      if (r.status === 200) {
        answered[id] = true;
        markAnswered(row);
      } else {
        button.disabled = false;
      }
    }, function () {
      result.textContent = msg("offline");
      button.disabled = false;
    });
  }

  function setupDesk() {
    if (!desk) { return; }
    offset = parseFloat(desk.getAttribute("data-server-now")) - Date.now();
    var list = document.getElementById("helpdesk-list");
    list.addEventListener("submit", function (ev) {
      var form = ev.target.closest("form.hd-answer");
      if (!form || !window.Yangpu) { return; }
      ev.preventDefault();
      answer(form);
    });
    /* pages.js replaced the list (a row came or went): tick at once so no row shows an empty clock for a
       second, and give the focus back to the button the agent was on if its row is still there. */
    var focused = null;
    list.addEventListener("focusin", function (ev) {
      var row = ev.target.closest(".hd-row");
      focused = row ? row.getAttribute("data-demand-id") : null;
    });
    new MutationObserver(function () {
      tick();
      if (focused && (!document.activeElement || document.activeElement === document.body)) {
        var again = list.querySelector(".hd-row[data-demand-id='" + focused + "'] .hd-answer button");
        if (again) { again.focus({ preventScroll: true }); }
      }
    }).observe(list, { childList: true });
    setupSound();
    tick();
    window.setInterval(tick, 1000);
  }

  /* The form: the registry look-up (the grid form's endpoint); a choice fills the code, name and street. */
  function setupForm() {
    var form = document.getElementById("helpdesk-form");
    if (!form) { return; }
    var input = document.getElementById("lookup");
    var status = document.getElementById("lookup-status");
    var results = document.getElementById("lookup-results");
    var timer = null;
    function say(name, n) { status.textContent = (form.getAttribute("data-msg-" + name) || "").replace("{n}", n); }
    function choose(item) {
      form.querySelector("[name='enterprise.uscc']").value = item.uscc;
      form.querySelector("[name='enterprise.name']").value = item.name;
      var street = form.querySelector("[name='street']");
      if (street && item.street) { street.value = item.street; }
      results.innerHTML = "";
      status.textContent = item.name;
      form.querySelector("[name='enterprise.contact_name']").focus();
    }
    function search() {
      var q = input.value.trim();
      if (q.length < 2) { results.innerHTML = ""; status.textContent = ""; return; }
      window.Yangpu.getJSON(form.getAttribute("data-lookup-url") + "?q=" + encodeURIComponent(q)).then(function (body) {
        results.innerHTML = "";
        body.items.forEach(function (item) {
          var li = document.createElement("li");
          var button = document.createElement("button");
          button.type = "button";
          button.textContent = item.name + " ";
          var small = document.createElement("small");
          small.textContent = item.uscc + " · " + item.street_name + (item.key_enterprise ? " · " + form.getAttribute("data-msg-key") : "");
          button.appendChild(small);
          button.addEventListener("click", function () { choose(item); });
          li.appendChild(button);
          results.appendChild(li);
        });
        if (body.items.length) { say("found", String(body.items.length)); } else { say("none", ""); }
      }, function () { say("offline-lookup", ""); });
    }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, 250);
    });
    input.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); search(); } });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupDesk();
    setupForm();
  });
}());
