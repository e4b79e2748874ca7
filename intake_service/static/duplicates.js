/* The likely-duplicate notice (重复诉求) of the logging forms: once the form has an 18-character credit code and
   a category, ask the server for open demands of that enterprise and category and name them, each linked to
   its page when the desk has one. Only a notice: the form still files a new demand. */
(function () {
  "use strict";
  var box = document.getElementById("duplicates");
  if (!box) { return; }
  var form = box.closest("form");
  if (!form) { return; }
  var uscc = form.querySelector('[name="enterprise.uscc"]');
  var category = form.querySelector('[name="category"]');
  if (!uscc || !category) { return; }
  var asked = "";
  var timer = null;

  function show(body) {
    box.textContent = "";
    if (!body.items || !body.items.length) { box.hidden = true; return; }
    var parts = body.notice.split("{demand}");
    box.appendChild(document.createTextNode(parts[0]));
    body.items.forEach(function (d, i) {
      if (i) { box.appendChild(document.createTextNode("; ")); }
      var text = d.number + " " + d.title;
      var node;
      if (d.url) {
        node = document.createElement("a");
        node.href = d.url;
        node.target = "_blank";
        node.rel = "noopener";
      } else {
        node = document.createElement("strong");
      }
      node.textContent = text;
      box.appendChild(node);
      box.appendChild(document.createTextNode(" (" + d.status + ")"));
    });
    box.appendChild(document.createTextNode(parts.slice(1).join("")));
    box.hidden = false;
  }

  function check() {
    var code = uscc.value.trim().toUpperCase();
    var cat = category.value;
    var key = code + "|" + cat;
    if (code.length !== 18 || !cat) { asked = ""; box.hidden = true; return; }
    if (key === asked) { return; }
    asked = key;
    var url = box.getAttribute("data-duplicates-url") + "?uscc=" + encodeURIComponent(code) +
      "&category=" + encodeURIComponent(cat);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (body) { if (asked === key) { show(body); } }, function () { /* offline: no notice */ });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  }

  ["input", "change"].forEach(function (type) {
    uscc.addEventListener(type, later);
    category.addEventListener(type, later);
  });
  check();
})();
