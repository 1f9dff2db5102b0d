// homeclaude service worker: keeps the page shell (HTML, CSS, JS, icons, manifest)
// so the page opens from the home screen on a flaky link, and shows the box's Web
// Push notifications. It never touches the WebSocket, the API, the login pages or
// anything else: those go to the network as if it were not here (its only call
// is a notification's Allow / Deny).
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

// Web Push from the box (src/notify.rs): the payload is JSON {title, body, tag,
// url, event, approval?}. A tool approval gets Allow / Deny buttons where the
// browser has them (Chrome on Android and desktop); elsewhere a tap opens the card.
const ACTIONS = {
  en: { allow: "Allow", deny: "Deny" },
  ko: { allow: "허용", deny: "거부" },
};
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (_) {
    data = { body: event.data ? event.data.text() : "" };
  }
  const approval = data.approval && typeof data.approval.id === "string" ? data.approval : null;
  const options = {
    body: data.body || "",
    icon: "/static/icon-192.png",
    badge: "/static/icon-192.png",
    tag: data.tag || "homeclaude",
    data: { url: typeof data.url === "string" ? data.url : "/", approval },
  };
  if (approval) {
    options.requireInteraction = true;
    if (approval.kind === "tool") {
      const words = ACTIONS[approval.lang] || ACTIONS.en;
      options.actions = [
        { action: "allow", title: words.allow },
        { action: "deny", title: words.deny },
      ];
    }
  }
  event.waitUntil(self.registration.showNotification(data.title || "homeclaude", options));
});

// Opens (or focuses) the page at `url` ("/#approval-<id>", "/#run-<n>").
function openPage(url) {
  const target = new URL(url || "/", self.location.origin);
  if (target.origin !== self.location.origin) return Promise.resolve();
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((list) => {
    for (const c of list) {
      if ("focus" in c) {
        if (target.hash) c.postMessage({ open: target.hash });
        return c.focus();
      }
    }
    return self.clients.openWindow(target.href);
  });
}

// Allow / Deny: the notification's one-time token answers exactly that approval
// (POST /api/approvals/<id>?token=...); if that fails, the card opens instead.
function answer(approval, decision, url) {
  const path = "/api/approvals/" + encodeURIComponent(approval.id) + "?token=" + encodeURIComponent(approval.token || "");
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ decision }),
  })
    .then((res) => (res.ok ? undefined : openPage(url)))
    .catch(() => openPage(url));
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  if (data.approval && (event.action === "allow" || event.action === "deny")) {
    event.waitUntil(answer(data.approval, event.action, data.url));
    return;
  }
  event.waitUntil(openPage(data.url || "/"));
});
