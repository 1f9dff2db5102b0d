// homeclaude service worker: keeps the page shell (HTML, CSS, JS, icons, manifest)
// so the page opens from the home screen on a flaky link. It never touches the
// WebSocket, the API, the login pages or anything else: those go to the network
// as if it were not here.
"use strict";
const CACHE = "homeclaude-shell-1";
const SHELL = ["/", "/manifest.webmanifest", "/static/icon.svg", "/static/icon-192.png"];

function cacheable(res) {
  // A redirect (to /login, say) or an error is never kept as the shell.
  return res && res.ok && res.type === "basic" && !res.redirected;
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      Promise.all(
        SHELL.map((url) =>
          fetch(url, { cache: "no-cache", redirect: "manual" })
            .then((res) => (cacheable(res) ? cache.put(url, res) : undefined))
            .catch(() => undefined)
        )
      )
    ).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("homeclaude-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === "navigate" && url.pathname === "/") {
    event.respondWith(page(req));
  } else if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(url.searchParams.has("v") ? versioned(req, url) : fresh(req));
  }
  // Everything else (/ws, /healthz, /api/…, /login …) is not ours to answer.
});

// The page: the network first, so a new build shows at once; the kept copy offline.
async function page(req) {
  const cache = await caches.open(CACHE);
  try {
    const res = await fetch(req);
    if (cacheable(res)) cache.put("/", res.clone());
    return res;
  } catch (err) {
    const kept = await cache.match("/");
    if (kept) return kept;
    throw err;
  }
}

// `?v=<hash>` URLs never change: the kept copy first. Older versions of the same
// file are dropped when a new one is kept.
async function versioned(req, url) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(req);
  if (kept) return kept;
  const res = await fetch(req);
  if (cacheable(res)) {
    const old = await cache.keys();
    await Promise.all(
      old.filter((k) => {
        const u = new URL(k.url);
        return u.pathname === url.pathname && u.search !== url.search;
      }).map((k) => cache.delete(k))
    );
    await cache.put(req, res.clone());
  }
  return res;
}

// Unversioned files: the network, falling back to the kept copy.
async function fresh(req) {
  const cache = await caches.open(CACHE);
  try {
    const res = await fetch(req);
    if (cacheable(res)) cache.put(req, res.clone());
    return res;
  } catch (err) {
    const kept = await cache.match(req);
    if (kept) return kept;
    throw err;
  }
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((list) => {
      for (const c of list) if ("focus" in c) return c.focus();
      return self.clients.openWindow("/");
    })
  );
});
