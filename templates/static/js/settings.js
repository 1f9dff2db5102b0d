// The header, the settings sheet with earlier sessions, the PWA, the viewer role.

// ---------------------------------------------------------------- header and settings
function newSession() {
  if (window.confirm(t("clearConfirm"))) command("clear");
}
$("new-session").addEventListener("click", newSession);
const menu = $("menu");
$("menu-btn").addEventListener("click", () => {
  updateNotes();
  if (menu.showModal) menu.showModal();
  else menu.setAttribute("open", "");
});
$("menu-close").addEventListener("click", () => menu.close());
menu.addEventListener("click", (e) => {
  if (e.target === menu) menu.close(); // a tap on the backdrop
});
$("act-new").addEventListener("click", () => {
  menu.close();
  newSession();
});
$("act-reload").addEventListener("click", () => location.reload());
// One tap at the sheet's top: a new session, a restart.
$("quick-new").addEventListener("click", () => $("act-new").click());
$("quick-restart").addEventListener("click", () => $("act-restart").click());
$("act-restart").addEventListener("click", () => {
  if (window.confirm(t("restartConfirm"))) {
    menu.close();
    command("restart");
  }
});
$("opt-lang").addEventListener("change", (e) => {
  lang = STRINGS[e.target.value] ? e.target.value : "en";
  store.set("lang", lang);
  // The server words the login page by this too.
  document.cookie = "hc_lang=" + lang + "; path=/; max-age=31536000; SameSite=Strict";
  applyLang();
});
$("opt-currency").addEventListener("change", (e) => {
  store.set("currency", ["usd", "krw"].includes(e.target.value) ? e.target.value : "auto");
  applyLang();
});
function bindToggle(name, onChange) {
  const box = $("opt-" + name);
  box.checked = !!opts[name];
  box.addEventListener("change", () => {
    opts[name] = box.checked;
    store.set(name, box.checked);
    if (onChange) onChange(box);
  });
}
bindToggle("autoscroll", () => {
  follow = opts.autoscroll && nearBottom();
});
bindToggle("wakelock", () => wakeLock());
bindToggle("sound", () => unlockAudio());
bindToggle("notify", (box) => {
  if (!box.checked || !("Notification" in window)) return updateNotes();
  if (Notification.permission === "default") {
    Notification.requestPermission().then(updateNotes, updateNotes);
  }
  updateNotes();
});
function updateNotes() {
  const wl = $("note-wakelock");
  const wlBox = $("opt-wakelock");
  wl.textContent = navigator.wakeLock ? "" : t("needsHttps");
  wlBox.disabled = !navigator.wakeLock;
  const nt = $("note-notify");
  const ntBox = $("opt-notify");
  if (!("Notification" in window) || !window.isSecureContext) {
    nt.textContent = t("needsHttps");
    ntBox.disabled = true;
  } else if (Notification.permission === "denied") {
    nt.textContent = t("denied");
    ntBox.disabled = true;
  } else {
    nt.textContent = "";
    ntBox.disabled = false;
  }
}

// ---------------------------------------------------------------- PWA
let installPrompt = null;
window.addEventListener("beforeinstallprompt", (e) => {
  e.preventDefault();
  installPrompt = e;
  $("act-install").hidden = false;
});
$("act-install").addEventListener("click", () => {
  if (!installPrompt) return;
  installPrompt.prompt();
  installPrompt.userChoice.finally(() => {
    installPrompt = null;
    $("act-install").hidden = true;
  });
});
window.addEventListener("appinstalled", () => ($("act-install").hidden = true));
if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}
// The home-screen shortcut "New conversation" opens /?new=1.
let newConversationWanted = false;
const params = new URLSearchParams(location.search);
if (params.get("new") === "1") {
  newConversationWanted = true;
  params.delete("new");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
}

// A read-only viewer link watches; the hub refuses what it would send anyway.
function setViewer(on) {
  document.body.classList.toggle("viewer", on);
  ["composer", "new-session", "act-new", "act-restart", "quick-new", "quick-restart"].forEach((id) => ($(id).hidden = on));
}
