// The other boxes of a dashboard (--boxes): their state in the settings sheet, and
// a way to open one. The server polls them (GET /api/boxes); the page never talks
// to another box and never sees its token.

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
    // Opening a box is opening its own page (it has its own login); the
    // dashboard does not relay another box's live view yet (docs/SECURITY.md).
    if (typeof b.url === "string" && /^https?:\/\//.test(b.url)) {
      const open = el("a", "btn", t("boxOpen"));
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
