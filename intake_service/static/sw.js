/* The grid worker's offline app (served as /grid/sw.js, scope /grid; intake_service/http/pages.py puts the
   version in). The pages answer with Cache-Control: no-store, so nothing on the way (a proxy) keeps them;
   this worker keeps its own copies, in this phone's Cache Storage only:
   - the shell (scripts, styles, manifest, icons): on install, served cache-first, one cache per version;
   - the worker's pages (the form with its reference data: streets and categories; 我的诉求; each of the
     worker's own demands once opened): fetched on install and at each visit, served network-first with
     the cached copy when there is no network (or it takes too long);
   - nothing else: JSON answers (the registry look-up, sending a draft, the CSRF token) always go to the
     network. Signing out deletes every cache (pages.js).
   Drafts are not kept here but in the page's localStorage; a Background Sync asks the open pages to send
   them (a page load or the `online` event does too). */
"use strict";

var VERSION = "__VERSION__";
var SHELL = "yangpu-grid-shell-" + VERSION;
var PAGES = "yangpu-grid-pages-" + VERSION;
var SHELL_URLS = ["/grid-static/grid.js", "/grid-static/drafts.js", "/pages-static/pages.js",
                  "/pages-static/pages.css", "/pages-static/validation.js", "/grid/manifest.webmanifest",
                  "/grid-static/icon-192.png", "/grid-static/icon-512.png"];
var PAGE_URLS = ["/grid", "/grid/mine"];
var NETWORK_PATIENCE_MS = 4000;     // a basement's "connected but nothing comes": use the copy after this
var SYNC_TAG = "yangpu-drafts";

/* The worker's own pages, by path: the form, 我的诉求, and one demand. */
function cacheablePage(path) {
  return path === "/grid" || path === "/grid/mine" || /^\/grid\/demands\/[0-9a-f-]{36}$/.test(path);
}

function isShell(path) {
  return SHELL_URLS.indexOf(path) >= 0;
}

/* A page worth keeping: the page itself (not the sign-in it was redirected to), complete. */
function keepable(response) {
  return response && response.ok && response.type === "basic" && !response.redirected;
}

function fetchPage(path) {
  return fetch(path, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (response) {
    if (!keepable(response)) { return null; }
    return caches.open(PAGES).then(function (cache) { return cache.put(path, response); });
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) { return cache.addAll(SHELL_URLS); }).then(function () {
    // Pages need the sign-in: try them, but a page that cannot be had now is fetched at its next visit.
    return Promise.all(PAGE_URLS.map(function (path) { return fetchPage(path).catch(function () { return null; }); }));
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("yangpu-grid-") === 0 && name !== SHELL && name !== PAGES;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "skip-waiting") { self.skipWaiting(); }
});

/* Network first; the cached copy when the network fails or is too slow. */
function page(request, path) {
  var network = fetch(request).then(function (response) {
    if (keepable(response) && cacheablePage(path)) {
      var copy = response.clone();
      caches.open(PAGES).then(function (cache) { return cache.put(path, copy); });
    }
    return response;
  });
  var cached = function () {
    return caches.open(PAGES).then(function (cache) {
      return cache.match(path).then(function (hit) {
        // A demand not opened before: 我的诉求 (where its status is) rather than the browser's error page.
        return hit || cache.match(/^\/grid\/demands\//.test(path) ? "/grid/mine" : "/grid");
      });
    });
  };
  return new Promise(function (resolve, reject) {
    var settled = false;
    var timer = setTimeout(function () {
      cached().then(function (hit) { if (hit && !settled) { settled = true; resolve(hit); } });
    }, NETWORK_PATIENCE_MS);
    network.then(function (response) {
      clearTimeout(timer);
      if (!settled) { settled = true; resolve(response); }
    }, function (error) {
      clearTimeout(timer);
      cached().then(function (hit) {
        if (settled) { return; }
        settled = true;
        if (hit) { resolve(hit); } else { reject(error); }
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && (url.pathname === "/grid" || url.pathname.indexOf("/grid/") === 0)) {
    event.respondWith(page(request, url.pathname));
    return;
  }
  if (isShell(url.pathname)) {
    event.respondWith(caches.open(SHELL).then(function (cache) {
      return cache.match(url.pathname).then(function (hit) {
        return hit || fetch(request).then(function (response) {
          if (response.ok) { cache.put(url.pathname, response.clone()); }
          return response;
        });
      });
    }));
  }
  // Anything else (JSON, the registry look-up, 我的诉求's refresh) goes to the network as usual.
});

/* Background Sync: the drafts live in the pages' storage, so the open pages send them. */
self.addEventListener("sync", function (event) {
  if (event.tag !== SYNC_TAG) { return; }
  event.waitUntil(self.clients.matchAll({ type: "window" }).then(function (list) {
    list.forEach(function (client) { client.postMessage({ type: "flush" }); });
  }));
});
