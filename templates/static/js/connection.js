// The WebSocket: replay, reconnect with back-off, sign-in check, ping.

// ---------------------------------------------------------------- connection
const conn = {
  ws: null,
  id: 0,
  open: false,
  ready: false, // the replay is over: safe to send the outbox
  replaying: false,
  sawSeq: false,
  lastSeq: 0,
  attempts: 0,
  failedOpens: 0,
  timer: 0,
  retryAt: 0,
  state: "connecting",
  authBlocked: false,
};
function setConn(state) {
  conn.state = state;
  const dot = $("dot");
  dot.className = "dot " + state;
  const label = t(state === "online" ? "online" : state === "offline" ? "offline" : "connecting");
  dot.setAttribute("aria-label", label);
  dot.title = label;
  $("conn-text").textContent = label;
}
function banner(text, actionText, action, bad) {
  const b = $("banner");
  if (!text) {
    b.hidden = true;
    return;
  }
  b.hidden = false;
  b.classList.toggle("bad", !!bad);
  $("banner-text").textContent = text;
  const a = $("banner-action");
  a.hidden = !actionText;
  a.textContent = actionText || "";
  a.onclick = action || null;
}
let bannerTicker = 0;
function showRetryBanner() {
  clearInterval(bannerTicker);
  const draw = () => {
    const s = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
    banner(s > 0 ? t("reconnectIn", s) : t("reconnecting"), t("retryNow"), () => connectNow());
  };
  draw();
  bannerTicker = setInterval(draw, 1000);
}

function send(obj) {
  if (!conn.ws || !conn.open) return false;
  try {
    conn.ws.send(JSON.stringify(obj));
    return true;
  } catch (_) {
    return false;
  }
}
function command(name, extra) {
  const ok = send(Object.assign({ type: "command", command: name }, extra || {}));
  if (!ok) toast(t("offlineCommand"));
  return ok;
}

function connect() {
  clearTimeout(conn.timer);
  conn.timer = 0;
  if (conn.ws || conn.authBlocked) return;
  if (navigator.onLine === false) return goneOffline(); // `online` reconnects
  setConn("connecting");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  let ws;
  try {
    // Another box's live view goes through this server's relay (boxes.js).
    const path = viewingBox ? "/api/boxes/" + encodeURIComponent(viewingBox) + "/ws" : "/ws";
    ws = new WebSocket(scheme + location.host + path + "?last_seq=" + conn.lastSeq);
  } catch (_) {
    scheduleReconnect();
    return;
  }
  const id = ++conn.id;
  conn.ws = ws;
  let opened = false;
  let readyTimer = 0;
  ws.onopen = () => {
    if (id !== conn.id) return;
    opened = true;
    conn.open = true;
    conn.ready = false;
    conn.replaying = true;
    conn.sawSeq = false;
    conn.attempts = 0;
    conn.failedOpens = 0;
    setConn("online");
    reportVisibility();
    clearInterval(bannerTicker);
    banner(null);
    // The server sends the replay, then a queue snapshot without `seq`; if the
    // snapshot never comes, go on after a while anyway.
    readyTimer = setTimeout(replayOver, 4000);
  };
  ws.onmessage = (m) => {
    if (id !== conn.id) return;
    let ev;
    try {
      ev = JSON.parse(m.data);
    } catch (_) {
      return;
    }
    if (!ev || typeof ev !== "object") return;
    if (ev.type === "approval" && typeof ev.seq === "number" && ev.seq <= conn.lastSeq) {
      // A request still waiting is sent again on every connect with its own
      // `seq`: not a sign that the server started over. approvals.js keeps one
      // card per id.
      dispatch(ev);
      return;
    }
    if (typeof ev.seq === "number") {
      if (ev.seq <= conn.lastSeq) {
        if (!conn.sawSeq && conn.lastSeq > 0) {
          // A first event at or below what we have seen: the server's counter
          // started over (it restarted without its history). Start over too.
          conn.lastSeq = 0;
          addSystem(t("serverReset"));
          ws.close(4000, "resync");
          return;
        }
        return; // seen already
      }
      conn.sawSeq = true;
      conn.lastSeq = ev.seq;
    }
    try {
      dispatch(ev);
    } catch (e) {
      if (window.console) console.error("homeclaude: cannot show event", ev, e);
    }
    if (ev.type === "queue_status" && typeof ev.seq !== "number") {
      clearTimeout(readyTimer);
      replayOver();
    }
  };
  ws.onclose = (e) => {
    if (id !== conn.id) return;
    clearTimeout(readyTimer);
    conn.ws = null;
    conn.open = false;
    conn.ready = false;
    conn.replaying = false;
    setConn("offline");
    refreshPendingStates();
    if (e.code === 1012) addSystem(t("serverRestarting"));
    if (e.code === 4502) boxViewEnded(e.reason);
    if (e.code === 4000) {
      connectSoon(0);
      return;
    }
    if (e.code === 4003) {
      // Revoked or expired invite: the cookie is dead too; say so, do not retry.
      conn.authBlocked = true;
      clearTimeout(conn.timer);
      people.here = [];
      renderPeople();
      banner(t("revoked"), t("signIn"), () => location.assign("/login"), true);
      return;
    }
    if (e.code === 4401 || e.code === 1008) {
      checkAuth(true);
      return;
    }
    if (!opened) {
      conn.failedOpens++;
      if (conn.failedOpens >= 2) checkAuth(false);
    }
    scheduleReconnect();
  };
}
function replayOver() {
  if (!conn.open || conn.ready) return;
  conn.replaying = false;
  conn.ready = true;
  flushOutbox();
  contentChanged();
  updateBusy();
  // A viewer may not ask (it would only earn a read-only notice); the figures
  // reach it anyway with every usage_status broadcast.
  if (!isViewer()) send({ type: "command", command: "request_usage" });
  if (newConversationWanted) {
    newConversationWanted = false;
    command("clear");
  }
}
function scheduleReconnect() {
  // Exponential back-off with jitter: many phones waking at once do not stampede.
  const base = Math.min(BACKOFF.max, BACKOFF.first * Math.pow(2, conn.attempts));
  conn.attempts++;
  connectSoon(base / 2 + Math.random() * (base / 2));
}
function connectSoon(ms) {
  clearTimeout(conn.timer);
  conn.retryAt = Date.now() + ms;
  conn.timer = setTimeout(connect, ms);
  if (ms > 0) showRetryBanner();
}
function connectNow() {
  // Start the back-off over: if an attempt is already on its way and fails, the
  // next one comes quickly instead of after a long step.
  conn.attempts = 0;
  if (conn.ws) return;
  connectSoon(0);
}
// The login layer answers a page or upgrade without a valid session with 401 or a
// redirect to /login. A WebSocket cannot see that status, so ask with fetch.
function checkAuth(certain) {
  fetch("/", { method: "GET", cache: "no-store", redirect: "manual", credentials: "same-origin" })
    .then((r) => {
      if (r.status === 401 || r.type === "opaqueredirect" || (r.redirected && /\/login/.test(r.url)) || certain) {
        signedOut();
      }
    })
    .catch(() => {
      if (certain) signedOut();
    });
}
function signedOut() {
  conn.authBlocked = true;
  clearTimeout(conn.timer);
  clearInterval(bannerTicker);
  setConn("offline");
  const next = encodeURIComponent(location.pathname + location.search);
  banner(t("signedOut"), t("signIn"), () => location.assign("/login?next=" + next), true);
}
window.addEventListener("online", () => {
  banner(null);
  connectNow();
});
// The browser knows the network is gone before a socket does: say so at once,
// and drop the socket (it may look open for minutes); `online` brings it back.
window.addEventListener("offline", goneOffline);
function goneOffline() {
  if (conn.authBlocked) return;
  clearTimeout(conn.timer);
  clearInterval(bannerTicker);
  const ws = conn.ws;
  if (ws) {
    conn.id++; // its close is not news
    conn.ws = null;
    conn.open = false;
    conn.ready = false;
    conn.replaying = false;
    try {
      ws.close();
    } catch (_) {
      /* already closing */
    }
  }
  setConn("offline");
  banner(t("noNetwork"), null, null, true);
  refreshPendingStates();
}
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    connectNow(); // a phone waking up: do not wait for the back-off
    wakeLock();
  }
});
setInterval(() => send({ type: "ping" }), PING_MS);
