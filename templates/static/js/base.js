// Constants, storage, the language, icons and small helpers every part uses.
//
// Rules every part keeps: untrusted text goes into the page with textContent only;
// the one HTML inserted is the server's `html` field of Claude's answer (rendered
// and sanitised by src/markdown.rs). No inline styles or handlers (CSP); styles come
// from app.css, set through classes or the CSSOM. Every user-facing string is in
// STRINGS, one object per language.

// Usage warning thresholds (the original page's colours, made explicit).
const USAGE = { warnMinutes: 30, dangerMinutes: 10, warnUsd: 10, dangerUsd: 25 };
// A fixed rate for amounts in won (the original page showed ₩): an estimate.
const KRW_PER_USD = 1400;
const PING_MS = 5 * 60 * 1000; // the original page's keep-alive, for tunnels
const BACKOFF = { first: 500, max: 30000 };
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- storage
const store = {
  get(key, fallback) {
    try {
      const v = localStorage.getItem("hc." + key);
      return v === null ? fallback : JSON.parse(v);
    } catch (_) {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem("hc." + key, JSON.stringify(value));
    } catch (_) {
      /* private mode or full: settings just do not persist */
    }
  },
};

// ---------------------------------------------------------------- language
function pickLang() {
  const saved = store.get("lang", null);
  if (saved && STRINGS[saved]) return saved;
  const server = document.documentElement.dataset.lang || "";
  const wanted = server || navigator.language || "en";
  return wanted.toLowerCase().startsWith("ko") ? "ko" : "en";
}
let lang = pickLang();
function t(key) {
  let s = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
  for (let i = 1; i < arguments.length; i++) s = s.split("{" + (i - 1) + "}").join(String(arguments[i]));
  return s;
}
function applyLang() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => (el.textContent = t(el.dataset.i18n)));
  document.querySelectorAll("[data-i18n-title]").forEach((el) => (el.title = t(el.dataset.i18nTitle)));
  document.querySelectorAll("[data-i18n-aria]").forEach((el) => el.setAttribute("aria-label", t(el.dataset.i18nAria)));
  document.querySelectorAll("[data-i18n-ph]").forEach((el) => (el.placeholder = t(el.dataset.i18nPh)));
  $("opt-lang").value = lang;
  setConn(conn.state);
  renderQueue();
  renderUsage();
  renderPeople();
  runs.forEach(renderStats);
  renderRunStatus();
  $("opt-currency").value = store.get("currency", "auto");
  updateNotes();
}

// ---------------------------------------------------------------- icons
// Our own line icons (24x24, stroked), drawn as SVG paths.
const ICONS = {
  plus: "M12 5v14M5 12h14",
  menu: "M4 7h16M4 12h16M4 17h16",
  close: "M6 6l12 12M18 6L6 18",
  send: "M12 19V5M6 11l6-6 6 6",
  stop: "M7 7h10v10H7z",
  down: "M12 5v14M6 13l6 6 6-6",
  edit: "M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4",
  write: "M6 3h8l4 4v14H6zM14 3v4h4M12 11v6M9 14h6",
  read: "M6 3h8l4 4v14H6zM14 3v4h4M9 12h6M9 16h6",
  bash: "M3 5h18v14H3zM7 10l3 2-3 2M12 15h5",
  search: "M17 10.5a6.5 6.5 0 1 1-13 0a6.5 6.5 0 1 1 13 0zM15.5 15.5L21 21",
  web: "M21 12a9 9 0 1 1-18 0a9 9 0 1 1 18 0zM3 12h18M12 3c3 3 3 15 0 18M12 3c-3 3-3 15 0 18",
  todo: "M4 6l1.5 1.5L8 5M4 12l1.5 1.5L8 11M4 18l1.5 1.5L8 17M11 6h9M11 12h9M11 18h9",
  task: "M12 3v3M6 7h12v10H6zM9.5 11.5h.01M14.5 11.5h.01M9 17v3M15 17v3M3 11v3M21 11v3",
  thinking: "M9 18h6M10 21h4M12 3a6 6 0 0 0-4 10.5c.8.8 1 1.5 1 2.5h6c0-1 .2-1.7 1-2.5A6 6 0 0 0 12 3z",
  note: "M4 5h16v11H9l-5 4z",
  tool: "M12 9a3 3 0 1 0 0 6a3 3 0 1 0 0-6zM12 2v4M12 18v4M2 12h4M18 12h4M5 5l2.5 2.5M16.5 16.5L19 19M5 19l2.5-2.5M16.5 7.5L19 5",
  alert: "M12 8v5M12 16.5v.01M21 12a9 9 0 1 1-18 0a9 9 0 1 1 18 0z",
  restart: "M20 12a8 8 0 1 1-2.34-5.66M20 4v5h-5",
  clip: "M20 11.5l-8 8a5 5 0 0 1-7-7l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7L9.7 17.2a1.7 1.7 0 0 1-2.4-2.4L15 7",
  folder: "M3 6h6l2 2h10v11H3z",
  image: "M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15.5 9.5h.01",
};
function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "i");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name] || ICONS.tool);
  svg.appendChild(path);
  return svg;
}
const TOOL_ICONS = {
  Edit: "edit", MultiEdit: "edit", NotebookEdit: "edit", Write: "write", Read: "read",
  Bash: "bash", BashOutput: "bash", KillShell: "bash", Grep: "search", Glob: "search", LS: "search",
  WebFetch: "web", WebSearch: "web", TodoWrite: "todo", Task: "task", Agent: "task",
};

// ---------------------------------------------------------------- helpers
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function evTime(ev) {
  // `ts` (ms since the epoch) when the server sends it; otherwise arrival time,
  // which is only right for live events, so replayed ones show none.
  if (typeof ev.ts === "number") return new Date(ev.ts < 1e12 ? ev.ts * 1000 : ev.ts);
  return conn.replaying ? null : new Date();
}
function fmtClock(d) {
  if (!d) return "";
  try {
    return d.toLocaleTimeString(lang === "ko" ? "ko-KR" : "en-GB", { hour: "2-digit", minute: "2-digit" });
  } catch (_) {
    return d.toTimeString().slice(0, 5);
  }
}
function fmtDuration(sec) {
  sec = Math.max(0, sec);
  if (sec < 10) return sec.toFixed(1) + "s";
  if (sec < 60) return Math.round(sec) + "s";
  const m = Math.floor(sec / 60);
  const s = Math.floor(sec % 60);
  if (m < 60) return m + "m " + String(s).padStart(2, "0") + "s";
  return Math.floor(m / 60) + "h " + String(m % 60).padStart(2, "0") + "m";
}
function fmtMinutes(min) {
  min = Math.max(0, Math.round(min));
  return min >= 60 ? t("hoursMinutes", Math.floor(min / 60), String(min % 60).padStart(2, "0")) : t("minutes", min);
}
// The currency amounts are shown in: the setting, else won for Korean.
function currency() {
  const c = store.get("currency", "auto");
  if (c === "usd" || c === "krw") return c;
  return lang === "ko" ? "krw" : "usd";
}
function fmtMoney(usd) {
  if (typeof usd !== "number" || !isFinite(usd)) return currency() === "krw" ? "₩–" : "$–";
  if (currency() === "krw") return "₩" + Math.round(usd * KRW_PER_USD).toLocaleString("ko-KR");
  if (usd > 0 && usd < 0.01) return "<$0.01";
  return "$" + usd.toFixed(2);
}
function fmtCost(usd) {
  return fmtMoney(usd);
}
function fmtInt(n) {
  return typeof n === "number" ? n.toLocaleString(lang === "ko" ? "ko-KR" : "en-US") : "–";
}
function randomId() {
  // crypto.randomUUID needs a secure context; a LAN page over http is not one.
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

let toastTimer = 0;
function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 4000);
}

function copyText(text, button) {
  const done = () => {
    if (!button) return;
    button.textContent = t("copied");
    button.classList.add("done");
    setTimeout(() => {
      button.textContent = t("copy");
      button.classList.remove("done");
    }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => legacyCopy(text) && done());
  } else if (legacyCopy(text)) {
    done();
  }
}
function legacyCopy(text) {
  // The Clipboard API is missing on plain-http LAN pages; execCommand still works.
  const sink = el("textarea", "copy-sink");
  sink.value = text;
  sink.setAttribute("readonly", "");
  document.body.appendChild(sink);
  sink.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (_) {
    ok = false;
  }
  sink.remove();
  return ok;
}
function copyButton(getText) {
  const b = el("button", "copy-btn", t("copy"));
  b.type = "button";
  b.addEventListener("click", (e) => {
    e.preventDefault();
    e.stopPropagation();
    copyText(getText(), b);
  });
  return b;
}
