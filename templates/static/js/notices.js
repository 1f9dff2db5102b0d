// Notices away from the page: the page's visibility (so `--notify away` stays quiet
// while an owner looks), this device's Web Push subscription and its settings,
// and spoken notices (speech synthesis, one at a time).

opts.push = store.get("push", false);
opts.speak = store.get("speak", false);

// ---------------------------------------------------------------- visibility
function reportVisibility() {
  if (!isViewer()) send({ type: "visibility", visible: !document.hidden });
}
document.addEventListener("visibilitychange", reportVisibility);
window.addEventListener("pagehide", () => {
  if (!isViewer()) send({ type: "visibility", visible: false });
});

// A tap on a notification opens the page at the run or the waiting card.
function showTarget() {
  const m = /^#(approval|run)-(.+)$/.exec(location.hash);
  if (!m) return;
  const sel = m[1] === "approval" ? '[data-approval="' + CSS.escape(m[2]) + '"]' : '[data-run="' + CSS.escape(m[2]) + '"]';
  const el = document.querySelector(sel);
  if (el) el.scrollIntoView({ block: "center" });
}
window.addEventListener("hashchange", showTarget);
// Opened from a notification: the card exists once the replay is over.
if (/^#(approval|run)-/.test(location.hash)) {
  let tries = 0;
  const wait = setInterval(() => {
    if (conn.ready || ++tries > 50) {
      clearInterval(wait);
      showTarget();
    }
  }, 200);
}
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.addEventListener("message", (e) => {
    if (e.data && typeof e.data.open === "string" && e.data.open.startsWith("#")) {
      location.hash = e.data.open;
      showTarget();
    }
  });
}

// ---------------------------------------------------------------- Web Push
const pushState = { status: null, subscribed: false };
function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window && window.isSecureContext;
}
// This device gets the server's pushes: the page's own background notification
// would only repeat them.
function pushOn() {
  return !!opts.push && pushState.subscribed;
}
function b64uBytes(s) {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}
function pushEvents() {
  return Array.from(document.querySelectorAll("#push-events input:checked")).map((i) => i.value);
}
async function loadPushStatus() {
  try {
    const res = await fetch("/api/push/key", { credentials: "same-origin", cache: "no-store" });
    pushState.status = res.ok ? await res.json() : null;
  } catch (_) {
    pushState.status = null;
  }
  renderPush();
}
async function postSubscription(sub) {
  const body = sub.toJSON();
  body.events = pushEvents();
  body.lang = lang;
  const res = await fetch("/api/push/subscriptions", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error("subscribe " + res.status);
}
async function subscribePush() {
  if (!pushState.status) await loadPushStatus();
  if (!pushState.status) throw new Error("no key");
  if (Notification.permission === "default") await Notification.requestPermission();
  if (Notification.permission !== "granted") throw new Error("denied");
  const reg = await navigator.serviceWorker.ready;
  const key = b64uBytes(pushState.status.key);
  let sub = await reg.pushManager.getSubscription();
  // A subscription made for another key (a new data dir) cannot be reused.
  const old = sub && sub.options && sub.options.applicationServerKey;
  if (sub && old && new Uint8Array(old).join() !== key.join()) {
    await sub.unsubscribe();
    sub = null;
  }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await postSubscription(sub);
  pushState.subscribed = true;
}
async function unsubscribePush() {
  pushState.subscribed = false;
  const reg = await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.getSubscription();
  if (!sub) return;
  await fetch("/api/push/subscriptions", {
    method: "DELETE",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ endpoint: sub.endpoint }),
  }).catch(() => {});
  await sub.unsubscribe().catch(() => {});
}
function syncPush() {
  const work = opts.push ? subscribePush() : unsubscribePush();
  return work
    .catch((e) => {
      pushState.subscribed = false;
      if (opts.push) toast(t(e && e.message === "denied" ? "denied" : "pushFailed"));
    })
    .then(loadPushStatus);
}
function renderPush() {
  const box = $("opt-push");
  const note = $("note-push");
  const st = pushState.status;
  box.checked = !!opts.push;
  const usable = pushSupported() && st && st.built;
  box.disabled = !usable;
  note.textContent = !pushSupported() ? t("needsHttps") : st && !st.built ? t("pushNotBuilt") : "";
  $("push-events").disabled = !usable || !opts.push;
  $("act-push-test").disabled = !st;
  const lines = [];
  if (st) {
    lines.push(t("pushMode_" + st.mode));
    lines.push(st.ntfy === "off" ? t("ntfyOff") : st.ntfy === "ready" ? t("ntfyReady") : st.ntfy === "ok" ? t("ntfyOk") : t("ntfyError", st.ntfy));
    if (!st.public_url) lines.push(t("pushNoPublicUrl"));
    if (st.push_error) lines.push(t("pushError", st.push_error));
  }
  $("push-status").textContent = lines.join(" ");
}
if (!isViewer()) {
  $("opt-push").addEventListener("change", (e) => {
    opts.push = e.target.checked;
    store.set("push", opts.push);
    syncPush();
  });
  $("push-events").addEventListener("change", () => {
    store.set("pushEvents", pushEvents());
    if (opts.push) syncPush();
  });
  // The server words this device's notifications in the page's language.
  $("opt-lang").addEventListener("change", () => (opts.push && pushState.subscribed ? syncPush() : renderPush()));
  $("act-push-test").addEventListener("click", () => {
    fetch("/api/push/test", { method: "POST", credentials: "same-origin" })
      .then((res) => toast(t(res.ok ? "pushTestSent" : "pushFailed")))
      .catch(() => toast(t("pushFailed")));
  });
  const chosen = store.get("pushEvents", null);
  if (Array.isArray(chosen)) document.querySelectorAll("#push-events input").forEach((i) => (i.checked = chosen.includes(i.value)));
  // Keep the server's copy current (language, events, a renewed endpoint).
  if (opts.push && pushSupported() && Notification.permission === "granted") syncPush();
  else loadPushStatus();
} else {
  $("push-settings").hidden = true;
}

// ---------------------------------------------------------------- spoken notices
const speech = { queue: [], speaking: false };
function speechSupported() {
  return "speechSynthesis" in window && typeof SpeechSynthesisUtterance === "function";
}
// One sentence at a time: the next starts when the last has ended, and a burst
// keeps only the newest few.
function speak(text) {
  if (!opts.speak || !speechSupported() || !text) return;
  if (speech.queue.includes(text)) return;
  speech.queue.push(text);
  if (speech.queue.length > 3) speech.queue.shift();
  speakNext();
}
function speakNext() {
  if (speech.speaking || !speech.queue.length) return;
  const u = new SpeechSynthesisUtterance(speech.queue.shift());
  u.lang = lang === "ko" ? "ko-KR" : "en-US";
  const voice = speechSynthesis.getVoices().find((v) => v.lang && v.lang.toLowerCase().startsWith(lang));
  if (voice) u.voice = voice;
  speech.speaking = true;
  const next = () => {
    speech.speaking = false;
    speakNext();
  };
  u.onend = next;
  u.onerror = next;
  speechSynthesis.speak(u);
}
function spokenDuration(sec) {
  const s = Math.max(0, Math.round(sec || 0));
  const m = Math.floor(s / 60);
  return m > 0 ? t("sayMinutes", m) : t("saySeconds", s);
}
function spokenCost(usd) {
  if (typeof usd !== "number" || !isFinite(usd)) return "";
  if (currency() === "krw") return t("sayWon", Math.round(usd * KRW_PER_USD));
  return usd < 1 ? t("sayCents", Math.max(1, Math.round(usd * 100))) : t("sayDollars", usd.toFixed(2));
}
// The run is over and nothing waits in the queue.
function speakRunEnd() {
  const run = lastRun;
  if (!run) return;
  const c = run.complete;
  if (c) {
    const cost = spokenCost(c.cost_usd);
    speak(t("sayDone", spokenDuration(c.duration_sec)) + (cost ? ", " + cost : ""));
  } else if (run.state && run.state !== "running") {
    speak(t("sayStopped"));
  }
}
function speakApproval(ev) {
  const edits = ["Edit", "Write", "MultiEdit", "NotebookEdit"];
  const text =
    ev.kind === "question" ? t("sayQuestion") : ev.kind === "plan" ? t("sayPlan") : ev.tool === "Bash" ? t("sayCommand") : edits.includes(ev.tool) ? t("sayEdit") : t("sayTool", ev.tool || "");
  speak(text);
}
$("opt-speak").checked = !!opts.speak;
$("opt-speak").disabled = !speechSupported();
$("note-speak").textContent = speechSupported() ? "" : t("speakUnsupported");
$("opt-speak").addEventListener("change", (e) => {
  opts.speak = e.target.checked;
  store.set("speak", opts.speak);
  // Browsers speak only after a gesture: this one counts.
  if (opts.speak) speak(t("saySpeakOn"));
});
