/* shared/validation.py and the demand schema's field rules, ported once, so a form is checked on the phone
   in one round before it is sent (no network needed), with the server's own messages.

   Each check returns the server's English message (or null), character for character the same as the
   Python validator's; YangpuChecks.localize() turns it into the user's language with the table the page
   renders from shared.webkit.pages.errors (data-rules), the one the server uses for its own answers.
   tests/e2e/test_grid_offline.py runs both sides on one table of cases. */
(function () {
  "use strict";

  var USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  var CHECKSUM_MISMATCH = "checksum mismatch: the code does not check out, a character is probably mistyped";
  var PHONE_CATCH_ALL = "not a mainland mobile (1[3-9] + 9 digits) or landline (0 + area code) number";
  // Python's str.isspace() set (what str.strip() removes), not JavaScript's trim() set.
  var WS = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  var STRIP = new RegExp("^[" + WS + "]+|[" + WS + "]+$", "gu");
  // With the u flag a surrogate range matches lone surrogates only (pairs are one code point).
  var FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]/u;
  var INVISIBLE = /^[\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}\p{Mn}\p{Me}\u115f\u1160\u3164\uffa0\u2800]$/u;
  var NOT_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;

  function strip(s) { return s.replace(STRIP, ""); }
  function chars(s) { return Array.from(s); }
  function hex(n, width) { var h = n.toString(16); while (h.length < width) { h = "0" + h; } return h; }

  /* Python's repr() of one character, as the validators' f"{ch!r}" prints it. */
  function pyRepr(ch) {
    var escapes = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    var body;
    if (escapes[ch]) { body = escapes[ch]; } else if (ch !== " " && NOT_PRINTABLE.test(ch)) {
      var code = ch.codePointAt(0);
      body = code < 0x100 ? "\\x" + hex(code, 2) : code < 0x10000 ? "\\u" + hex(code, 4) : "\\U" + hex(code, 8);
    } else { body = ch; }
    return ch === "'" ? "\"'\"" : "'" + body + "'";
  }

  // --- USCC (GB 32100-2015) ---------------------------------------------------------------------------
  function usccBodyProblem(body) {
    var list = chars(body);
    for (var i = 0; i < list.length; i++) {
      if (USCC_CHARSET.indexOf(list[i]) < 0) {
        return "illegal character " + pyRepr(list[i]) + " at position " + (i + 1) +
          ": only digits and the letters A-Y without I, O, S, V, Z are allowed";
      }
    }
    var division = list.slice(2, 8).join("");
    if (!/^\p{Nd}+$/u.test(division)) {
      return "positions 3-8 (administrative division code) must be digits, got " + pyRepr1(division);
    }
    return null;
  }

  /* repr() of a short string (the division code): quotes chosen as Python does. */
  function pyRepr1(s) {
    var quote = s.indexOf("'") >= 0 && s.indexOf("\"") < 0 ? "\"" : "'";
    return quote + chars(s).map(function (ch) {
      if (ch === quote || ch === "\\") { return "\\" + ch; }
      var r = pyRepr(ch);
      return r.slice(1, -1);
    }).join("") + quote;
  }

  function checkChar(first17) {
    var total = 0;
    for (var i = 0; i < 17; i++) { total += USCC_CHARSET.indexOf(first17[i]) * USCC_WEIGHTS[i]; }
    return USCC_CHARSET[(31 - total % 31) % 31];
  }

  function usccProblem(code) {
    var norm = strip(code).toUpperCase();
    var n = chars(norm).length;
    if (n !== 18) { return "a unified social credit code has 18 characters, got " + n; }
    var problem = usccBodyProblem(norm.slice(0, 17));
    if (problem) { return problem; }
    if (USCC_CHARSET.indexOf(norm[17]) < 0) { return "illegal check character " + pyRepr(norm[17]) + " at position 18"; }
    return norm[17] !== checkChar(norm.slice(0, 17)) ? CHECKSUM_MISMATCH : null;
  }

  // --- Mainland phone numbers ----------------------------------------------------------------------------
  var S = "[" + WS + "]";
  var EXT_RE = new RegExp("(?:" + S + "*(?:ext\\.?|x|转)" + S + "*)(\\p{Nd}{1,6})" + S + "*$", "iu");
  var INTL_RE = new RegExp("^(?:\\+" + S + "*86|0086|\\(" + S + "*\\+?" + S + "*86" + S + "*\\))[" + WS + "-]*", "u");
  var ALLOWED_RE = new RegExp("^[\\p{Nd}" + WS + "\\-()]$", "u");
  var AREA_RE = /^0\p{Nd}{2,3}$/u;

  function phoneProblem(s) {
    var raw = strip(s);
    if (!raw) { return "phone number is empty"; }
    var ext = "";
    var m = EXT_RE.exec(raw);
    if (m) { ext = m[1]; raw = raw.slice(0, m.index).replace(new RegExp(S + "+$", "u"), ""); }
    var intl = false;
    m = INTL_RE.exec(raw);
    if (m) { intl = true; raw = raw.slice(m[0].length); }
    var list = chars(raw);
    for (var i = 0; i < list.length; i++) {
      if (!ALLOWED_RE.test(list[i])) { return "illegal character " + pyRepr(list[i]) + " in phone number"; }
    }
    var groups = raw.split("-").map(function (part) { return part.replace(new RegExp("[" + WS + "()]", "gu"), ""); })
      .filter(function (g) { return g; });
    var digits = groups.join("");
    if (!digits) { return "phone number has no digits"; }
    if (intl && !(digits[0] === "0" || digits[0] === "1")) { groups[0] = "0" + groups[0]; digits = "0" + digits; }
    if (!intl && chars(digits).length === 13 && digits.indexOf("861") === 0) { digits = digits.slice(2); groups = [digits]; }
    var len = chars(digits).length;
    if (digits[0] === "1") {
      if (ext) { return "mobile numbers have no extension"; }
      if (len !== 11) { return "a mobile number has 11 digits, got " + len; }
      if ("3456789".indexOf(digits[1]) < 0) { return "a mobile number starts with 13-19"; }
      return null;
    }
    if (digits[0] !== "0") {
      if (len >= 7 && len <= 8) { return "landline number needs its area code, e.g. 021-65432100"; }
      return PHONE_CATCH_ALL;
    }
    var area, rest;
    if (groups.length > 1 && AREA_RE.test(groups[0])) {
      area = groups[0]; rest = groups.slice(1);
    } else {
      var n = len > 1 && (digits[1] === "1" || digits[1] === "2") ? 3 : 4;
      var head = chars(groups[0]);
      area = head.slice(0, n).join("");
      rest = (head.length > n ? [head.slice(n).join("")] : []).concat(groups.slice(1));
      if (!AREA_RE.test(area)) { return "area code " + pyRepr1(area) + " must be 0 followed by 2-3 digits"; }
    }
    var number = rest.join("");
    var numLen = chars(number).length;
    if (!ext && rest.length > 1 && !(numLen >= 7 && numLen <= 8)) {
      var last = chars(rest[rest.length - 1]).length;
      var before = chars(rest.slice(0, -1).join("")).length;
      if (last >= 1 && last <= 6 && before >= 7 && before <= 8) { ext = rest[rest.length - 1]; number = rest.slice(0, -1).join(""); }
    }
    numLen = chars(number).length;
    if (!(numLen >= 7 && numLen <= 8)) {
      return "a landline number after area code " + area + " has 7-8 digits, got " + numLen;
    }
    if (number[0] === "0" || number[0] === "1") { return "a landline number cannot start with " + number[0]; }
    return null;
  }

  // --- Free text -------------------------------------------------------------------------------------------
  function textProblem(text) {
    var bad = FORBIDDEN.exec(text);
    if (bad) {
      var code = bad[0].charCodeAt(0);
      var kind = code >= 0xd800 && code <= 0xdfff ? "a lone surrogate, not a character"
        : (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) ? "a bidirectional control"
          : code === 0 ? "a NUL character" : "a control character";
      return "must not contain U+" + hex(code, 4).toUpperCase() + " (" + kind + ")";
    }
    if (text && chars(text).every(function (c) { return INVISIBLE.test(c); })) { return "must contain visible characters"; }
    return null;
  }

  // --- The demand form (intake_service.http.schemas.DemandIn, fed by pages.body_from_form) -----------------
  var REQUIRED = "Missing data for required field.";
  var TEXTS = { "title": [1, 120, true], "description": [1, 5000, true], "enterprise.contact_name": [1, 100, true],
                "enterprise.name": [1, 200, false] };

  function lengthProblem(text, min, max) {
    var n = chars(text).length;
    return n < min || n > max ? "Length must be between " + min + " and " + max + "." : null;
  }

  /* Every problem of a filled-in form, by field path, in the server's English: {field: [message]}. */
  function demand(values, choices) {
    var errors = {};
    function add(name, message) { if (message) { (errors[name] = errors[name] || []).push(message); } }
    function value(name) { return strip(values[name] || ""); }
    Object.keys(TEXTS).forEach(function (name) {
      var v = value(name);
      var rule = TEXTS[name];
      if (!v) { if (rule[2]) { add(name, REQUIRED); } return; }
      add(name, textProblem(v) || lengthProblem(v, rule[0], rule[1]));
    });
    var uscc = value("enterprise.uscc");
    if (!uscc) { add("enterprise.uscc", REQUIRED); } else {
      add("enterprise.uscc", chars(uscc).length > 40 ? "a unified social credit code has 18 characters" : usccProblem(uscc));
    }
    var phone = value("enterprise.contact_phone");
    if (!phone) { add("enterprise.contact_phone", REQUIRED); } else {
      var problem;
      try { problem = chars(phone).length > 40 ? "a phone number has at most 40 characters" : phoneProblem(phone); } catch (e) { problem = PHONE_CATCH_ALL; }
      add("enterprise.contact_phone", problem);
    }
    var grid = value("grid");
    if (grid) {
      var textBad = textProblem(grid);
      if (textBad) { add("grid", textBad); } else {
        if (chars(grid).length > 64) { add("grid", "Longer than maximum length 64."); }
        if (!/^[A-Za-z0-9._-]{1,64}$/.test(grid)) { add("grid", "String does not match expected pattern."); }
      }
    }
    ["category", "complexity"].forEach(function (name) {
      var v = value(name);
      if (!v) { if (name === "category") { add(name, REQUIRED); } return; }
      if (choices && choices[name] && choices[name].indexOf(v) < 0) { add(name, "Must be one of: " + choices[name].join(", ") + "."); }
    });
    return errors;
  }

  /* The server's English message in the user's language, by the table shared.webkit.pages.errors renders. */
  function localize(message, table) {
    var rules = (table && table.rules) || [];
    for (var i = 0; i < rules.length; i++) {
      var m = new RegExp(rules[i].pattern, "u").exec(message);
      if (m) {
        return rules[i].template.replace(/\{(\w+)\}/g, function (all, name) {
          var at = rules[i].names.indexOf(name);
          return at >= 0 ? m[at + 1] : all;
        });
      }
    }
    return table && table.fallback ? table.fallback.replace("{detail}", message) : message;
  }

  window.YangpuChecks = { uscc: usccProblem, phone: phoneProblem, text: textProblem, demand: demand,
                          localize: localize };
}());
