// The other boxes of a dashboard (--boxes): their state in the settings sheet, and
// a way to open one. The server polls them (GET /api/boxes); the page never talks
// to another box and never sees its token. `/?box=<name>` shows that box's runs
// live, read-only, through this server (GET /api/boxes/<name>/ws relays the box's
// own /ws, opened there as its viewer; docs/SECURITY.md).

// The box this page shows live, if any (a box name: letters, digits, - _ .).
const viewingBox = (() => {
  const name = new URLSearchParams(location.search).get("box");
  return name && /^[A-Za-z0-9._-]{1,32}$/.test(name) ? name : null;
})();

// ---------------------------------------------------------------- boxes
const BOX_STATES = { online: "boxOnline", unresponsive: "boxUnresponsive", offline: "boxOffline" };
function renderBoxes(boxes) {
  const section = $("boxes");
  const list = $("box-list");
  section.hidden = !boxes.length;
  list.textContent = "";
  boxes.forEach((b) => {
    const state = BOX_STATES[b.state] ? b.state : "offline";
    const li = el("li", "session-item box-item box-" + state);
    li.dataset.box = String(b.name);
    li.appendChild(el("span", "box-dot", ""));
    const text = el("div", "session-text");
    text.appendChild(el("span", "session-title", String(b.name)));
    const meta = [t(BOX_STATES[state])];
    if (state === "online") {
      meta.push(b.running ? t("boxRunning") : t("boxIdle"));
      if (typeof b.queued === "number" && b.queued > 0) meta.push(t("boxQueued", b.queued));
      if (typeof b.today_cost_usd === "number") meta.push(t("boxToday", fmtMoney(b.today_cost_usd)));
    } else if (typeof b.last_seen === "string") {
      meta.push(t("boxSeen", fmtWhen(Date.parse(b.last_seen))));
    }
    text.appendChild(el("small", "session-meta", meta.join(" · ")));
    li.appendChild(text);
    // Its runs live on this page (when the boxes file has its viewer token), or
    // its own page (which has its own login).
    if (b.live === true) {
      const view = el("a", "btn box-view", t("boxView"));
      view.href = "/?box=" + encodeURIComponent(String(b.name));
      li.appendChild(view);
    } else {
      text.appendChild(el("small", "session-meta box-note", t("boxNoLive")));
    }
    if (typeof b.url === "string" && /^https?:\/\//.test(b.url)) {
      const open = el("a", "btn box-own", t("boxOpen"));
      open.href = b.url;
      open.target = "_blank";
      open.rel = "noopener noreferrer";
      li.appendChild(open);
    }
    list.appendChild(li);
  });
}
function loadBoxes() {
  if (document.body.classList.contains("viewer")) return;
  fetch("/api/boxes", { cache: "no-store", credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((data) => renderBoxes(data && Array.isArray(data.boxes) ? data.boxes : []))
    .catch(() => renderBoxes([]));
}
// Fresh when the sheet opens, and every 15 s (the server's own poll) while it is open.
$("menu-btn").addEventListener("click", loadBoxes);
setInterval(() => menu.open && loadBoxes(), 15000);

// ---------------------------------------------------------------- live view
// `/?box=<name>`: a banner says which box this is and leads back; the page is a
// viewer's (nothing to send: the relay drops it, the box would refuse it). Asks
// this server first whether the box exists and can be viewed, so a refusal is
// said in words instead of a WebSocket that keeps failing.
function startBoxView() {
  $("box-banner").hidden = false;
  $("box-banner-text").textContent = t("boxViewing", viewingBox);
  document.title = viewingBox + " · homeclaude";
  fetch("/api/boxes", { cache: "no-store", credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((data) => {
      const box = (data && Array.isArray(data.boxes) ? data.boxes : []).find((b) => b.name === viewingBox);
      if (!box) return boxViewRefused(t("boxUnknown", viewingBox));
      if (typeof box.url === "string" && /^https?:\/\//.test(box.url)) {
        $("box-own").href = box.url;
        $("box-own").hidden = false;
      }
      if (box.live !== true) return boxViewRefused(t("boxNoLiveView", viewingBox));
      connect();
    })
    .catch((status) => {
      if (status === 401) signedOut();
      else if (status === 403) boxViewRefused(t("boxOwnerOnly"));
      else connect(); // the network: the connection's own retries take over
    });
}
function boxViewRefused(text) {
  setConn("offline");
  addSystem(text, true);
}
// The relay closes with 4502 and the reason when the box's side ended; said once
// per reason, not at every retry.
let boxViewLastEnd = "";
function boxViewEnded(reason) {
  const why = String(reason || "").replace(/^box [^:]*: /, "") || "?";
  if (why === boxViewLastEnd) return;
  boxViewLastEnd = why;
  addSystem(t("boxClosed", viewingBox, why), true);
}
