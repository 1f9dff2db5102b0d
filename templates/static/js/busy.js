// While Claude works: Stop, the wake lock, the chime and notification at the end.

// ---------------------------------------------------------------- busy: stop, wake lock, sound
let busy = false;
function runActive() {
  return !!(lastRun && lastRun.state === "running");
}
function updateBusy() {
  const now = queue.running || queue.count > 0 || runActive();
  $("stop").hidden = !(queue.running || runActive());
  if (now === busy) return;
  busy = now;
  wakeLock();
  if (!busy && !conn.replaying) queueEmptied();
}
function queueEmptied() {
  if (opts.sound) {
    chime();
    // Browsers refuse (and log) vibration before the user has touched the page.
    const touched = !navigator.userActivation || navigator.userActivation.hasBeenActive;
    if (navigator.vibrate && touched) navigator.vibrate([120, 80, 120]);
  }
  speakRunEnd();
  if (opts.notify && !pushOn() && document.hidden && "Notification" in window && Notification.permission === "granted") {
    const body = (lastAnswer || t("notifyEmpty")).slice(0, 140);
    const options = { body, icon: "/static/icon-192.png", tag: "homeclaude-done" };
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.ready.then((reg) => reg.showNotification(t("notifyTitle"), options)).catch(() => {});
    } else {
      try {
        new Notification(t("notifyTitle"), options);
      } catch (_) {
        /* Android needs the service worker path above */
      }
    }
  }
}
let audio = null;
function unlockAudio() {
  // Browsers allow sound only after a gesture: make the context on the first one.
  if (audio || !opts.sound) return;
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (Ctx) audio = new Ctx();
}
document.addEventListener("pointerdown", unlockAudio, { passive: true });
document.addEventListener("keydown", unlockAudio);
function chime() {
  if (!audio) return;
  if (audio.state === "suspended") audio.resume();
  const now = audio.currentTime;
  [660, 880].forEach((freq, i) => {
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = freq;
    o.type = "sine";
    g.gain.setValueAtTime(0.0001, now + i * 0.15);
    g.gain.exponentialRampToValueAtTime(0.2, now + i * 0.15 + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.15 + 0.3);
    o.connect(g).connect(audio.destination);
    o.start(now + i * 0.15);
    o.stop(now + i * 0.15 + 0.32);
  });
}
let lock = null;
function wakeLock() {
  const want = opts.wakelock && busy && !document.hidden;
  if (want && !lock && navigator.wakeLock) {
    navigator.wakeLock.request("screen").then((l) => {
      lock = l;
      l.addEventListener("release", () => {
        if (lock === l) lock = null;
      });
      if (!(opts.wakelock && busy)) l.release();
    }).catch(() => {});
  } else if (!want && lock) {
    const l = lock;
    lock = null;
    l.release().catch(() => {});
  }
}
