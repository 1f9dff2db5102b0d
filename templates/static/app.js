// homeclaude page: the chat, the run cards, the queue, and a connection that
// survives sleep, network changes and server restarts.
//
// Rules this file keeps: untrusted text goes into the page with textContent only;
// the one HTML it inserts is the server's `html` field of Claude's answer (rendered
// and sanitised by src/markdown.rs). No inline styles or handlers (CSP); styles come
// from app.css, set through classes or the CSSOM. Every user-facing string is in
// STRINGS, one object per language.
"use strict";
(function () {
  // ---------------------------------------------------------------- strings
  const STRINGS = {
    en: {
      connecting: "Connecting…",
      online: "Connected",
      offline: "Offline",
      reconnectIn: "Offline — reconnecting in {0} s",
      reconnecting: "Reconnecting…",
      retryNow: "Retry now",
      signedOut: "Your session has ended.",
      signIn: "Sign in",
      serverRestarting: "The server is restarting…",
      serverReset: "The server was restarted; earlier events it no longer has are not shown.",
      // error codes (src/protocol.rs ErrorCode; a test checks both ways)
      err_malformed_json: "The server could not read that message; reload the page.",
      err_missing_type: "This page and the server do not agree on the protocol; reload the page.",
      err_unknown_type: "This page and the server do not agree on the protocol; reload the page.",
      err_unknown_command: "This page and the server do not agree on the protocol; reload the page.",
      err_bad_field: "This page and the server do not agree on the protocol; reload the page.",
      err_binary_frame: "This page and the server do not agree on the protocol; reload the page.",
      err_read_only: "This is a read-only link: you can watch, not send.",
      err_empty_prompt: "The message is empty.",
      err_budget_reached: "Today's Claude cost has reached this server's daily limit; prompts are refused until tomorrow.",
      err_queue_full: "The queue is full; try again when a prompt has run.",
      err_usage_unavailable: "Usage figures are not available on this server.",
      err_sessions_unavailable: "The session list is not available.",
      err_not_running: "Nothing is running.",
      err_not_queued: "That prompt is no longer in the queue.",
      err_busy: "A prompt is running; stop it or wait for it first.",
      err_already_resolved: "Someone answered this first, or it was withdrawn.",
      err_unknown_approval: "Nothing is waiting for that answer any more.",
      err_history_gap: "Some events from while you were away are no longer kept by the server.",
      empty: "Ask Claude anything. Its tool calls, diffs and to-do lists show up here as it works.",
      placeholder: "Message Claude…",
      send: "Send",
      stop: "Stop",
      settings: "Settings",
      close: "Close",
      newSession: "New session",
      sessions: "Earlier sessions",
      sessionsEmpty: "No Claude sessions in this project yet.",
      sessionContinue: "Continue",
      sessionCurrent: "current",
      jump: "Scroll to the latest",
      you: "You",
      claude: "Claude",
      system: "System",
      queued: "queued",
      pending: "waiting for the connection",
      sending: "sending…",
      delivered: "delivered",
      queueCount: "{0} waiting",
      cancel: "Cancel",
      cancelItem: "Cancel prompt {0}",
      working: "Working…",
      done: "Done",
      failed: "Failed",
      stopped: "Stopped",
      retry: "Retrying in a new session",
      thinking: "Thinking",
      note: "Claude",
      stats: "{0} · {1} · {2} in / {3} out tokens · {4} turns",
      costKrw: "{0} (≈₩{1})",
      lines: "{0} lines",
      cut: "first {0} of {1} bytes",
      output: "Output",
      copy: "Copy",
      copied: "Copied",
      resume: "Continue in a terminal:",
      todoCount: "{0}/{1} done",
      autoscroll: "Auto-scroll to new messages",
      wakelock: "Keep the screen on while Claude works",
      sound: "Sound and vibration when the queue empties",
      notify: "Notify me when the page is in the background",
      needsHttps: "Needs HTTPS (or localhost) in this browser.",
      denied: "Blocked in the browser's site settings.",
      language: "Language",
      install: "Install app",
      reload: "Reload page",
      restart: "Restart server",
      restartConfirm: "Restart the server? A running prompt is stopped.",
      clearConfirm: "Start a new Claude session? The conversation stays on screen.",
      usageToday: "Today {0}",
      usageBlock: "5h {0} · {1} left",
      usageTitle: "Claude usage: today's cost; this 5-hour block's cost and time left",
      notifyTitle: "Claude is done",
      notifyEmpty: "The queue is empty.",
      notConnected: "Not connected.",
      interrupted: "(interrupted)",
      offlineCommand: "Not connected; try again when the dot is green.",
    },
    ko: {
      connecting: "연결 중…",
      online: "연결됨",
      offline: "오프라인",
      reconnectIn: "오프라인 — {0}초 후 다시 연결",
      reconnecting: "다시 연결하는 중…",
      retryNow: "지금 연결",
      signedOut: "로그인이 만료되었습니다.",
      signIn: "로그인",
      serverRestarting: "서버를 다시 시작하는 중…",
      serverReset: "서버가 다시 시작되었습니다. 서버에 남지 않은 이전 기록은 보이지 않습니다.",
      // error codes (src/protocol.rs ErrorCode; a test checks both ways)
      err_malformed_json: "서버가 이 메시지를 읽을 수 없습니다. 페이지를 새로 고치세요.",
      err_missing_type: "페이지와 서버의 프로토콜이 맞지 않습니다. 페이지를 새로 고치세요.",
      err_unknown_type: "페이지와 서버의 프로토콜이 맞지 않습니다. 페이지를 새로 고치세요.",
      err_unknown_command: "페이지와 서버의 프로토콜이 맞지 않습니다. 페이지를 새로 고치세요.",
      err_bad_field: "페이지와 서버의 프로토콜이 맞지 않습니다. 페이지를 새로 고치세요.",
      err_binary_frame: "페이지와 서버의 프로토콜이 맞지 않습니다. 페이지를 새로 고치세요.",
      err_read_only: "읽기 전용 링크입니다. 볼 수만 있고 보낼 수는 없습니다.",
      err_empty_prompt: "메시지가 비어 있습니다.",
      err_budget_reached: "오늘의 Claude 비용이 이 서버의 하루 한도에 도달했습니다. 내일까지 프롬프트를 받지 않습니다.",
      err_queue_full: "대기열이 가득 찼습니다. 프롬프트가 실행된 뒤 다시 시도하세요.",
      err_usage_unavailable: "이 서버에서는 사용량을 볼 수 없습니다.",
      err_sessions_unavailable: "세션 목록을 볼 수 없습니다.",
      err_not_running: "실행 중인 작업이 없습니다.",
      err_not_queued: "그 프롬프트는 더 이상 대기열에 없습니다.",
      err_busy: "프롬프트가 실행 중입니다. 먼저 중지하거나 끝날 때까지 기다리세요.",
      err_already_resolved: "다른 사람이 먼저 답했거나 요청이 취소되었습니다.",
      err_unknown_approval: "그 답을 기다리는 요청이 더 이상 없습니다.",
      err_history_gap: "자리를 비운 동안의 일부 기록은 서버에 더 이상 남아 있지 않습니다.",
      empty: "Claude에게 무엇이든 물어보세요. 도구 호출, 변경 내용, 할 일 목록이 작업하는 동안 여기에 표시됩니다.",
      placeholder: "Claude에게 메시지…",
      send: "보내기",
      stop: "중지",
      settings: "설정",
      close: "닫기",
      newSession: "새 세션",
      sessions: "이전 세션",
      sessionsEmpty: "이 프로젝트에는 아직 Claude 세션이 없습니다.",
      sessionContinue: "이어서 하기",
      sessionCurrent: "현재",
      jump: "최신 메시지로",
      you: "나",
      claude: "Claude",
      system: "시스템",
      queued: "대기 중",
      pending: "연결되면 보냅니다",
      sending: "보내는 중…",
      delivered: "전달됨",
      queueCount: "대기 {0}개",
      cancel: "취소",
      cancelItem: "{0}번 프롬프트 취소",
      working: "작업 중…",
      done: "완료",
      failed: "실패",
      stopped: "중지됨",
      retry: "새 세션에서 다시 시도",
      thinking: "생각",
      note: "Claude",
      stats: "{0} · {1} · 입력 {2} / 출력 {3} 토큰 · {4}턴",
      costKrw: "{0} (≈₩{1})",
      lines: "{0}줄",
      cut: "{1}바이트 중 앞 {0}바이트",
      output: "출력",
      copy: "복사",
      copied: "복사됨",
      resume: "터미널에서 이어가기:",
      todoCount: "{0}/{1} 완료",
      autoscroll: "새 메시지로 자동 스크롤",
      wakelock: "작업 중 화면 켜 두기",
      sound: "대기열이 비면 소리와 진동",
      notify: "페이지가 백그라운드일 때 알림",
      needsHttps: "이 브라우저에서는 HTTPS(또는 localhost)가 필요합니다.",
      denied: "브라우저 사이트 설정에서 차단되었습니다.",
      language: "언어",
      install: "앱 설치",
      reload: "새로고침",
      restart: "서버 재시작",
      restartConfirm: "서버를 다시 시작할까요? 실행 중인 작업은 중지됩니다.",
      clearConfirm: "새 Claude 세션을 시작할까요? 대화 내용은 화면에 남습니다.",
      usageToday: "오늘 {0}",
      usageBlock: "5시간 {0} · {1} 남음",
      usageTitle: "Claude 사용량: 오늘 비용, 현재 5시간 블록 비용과 남은 시간",
      notifyTitle: "Claude 작업 완료",
      notifyEmpty: "대기열이 비었습니다.",
      notConnected: "연결되지 않았습니다.",
      interrupted: "(중단됨)",
      offlineCommand: "연결되지 않았습니다. 점이 초록색이 되면 다시 시도하세요.",
    },
  };

  // Usage warning thresholds (the original page's colours, made explicit).
  const USAGE = { warnMinutes: 30, dangerMinutes: 10, warnUsd: 10, dangerUsd: 25 };
  // A fixed rate for the KRW hint the original page showed; an estimate, labelled ≈.
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
    return min >= 60 ? Math.floor(min / 60) + "h " + String(min % 60).padStart(2, "0") + "m" : min + "m";
  }
  function fmtUsd(usd) {
    if (typeof usd !== "number" || !isFinite(usd)) return "$–";
    return "$" + (usd < 1 ? usd.toFixed(4) : usd.toFixed(2));
  }
  function fmtCost(usd) {
    const s = fmtUsd(usd);
    if (lang !== "ko" || typeof usd !== "number") return s;
    return t("costKrw", s, Math.round(usd * KRW_PER_USD).toLocaleString("ko-KR"));
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

  // ---------------------------------------------------------------- scrolling
  const scroller = $("scroller");
  const log = $("log");
  const pendingBox = $("pending");
  const opts = {
    autoscroll: store.get("autoscroll", true),
    wakelock: store.get("wakelock", false),
    sound: store.get("sound", true),
    notify: store.get("notify", false),
  };
  let follow = opts.autoscroll; // follows new content until the user scrolls up
  let scrollQueued = false;
  let programmaticScroll = false;
  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  }
  function contentChanged() {
    $("empty").hidden = log.childElementCount + pendingBox.childElementCount > 0;
    if (!follow) {
      $("jump").hidden = nearBottom();
      return;
    }
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => {
      scrollQueued = false;
      if (!follow) return;
      programmaticScroll = true;
      scroller.scrollTop = scroller.scrollHeight;
    });
  }
  scroller.addEventListener("scroll", () => {
    if (programmaticScroll) {
      programmaticScroll = false;
      return;
    }
    const bottom = nearBottom();
    if (!bottom && follow) follow = false; // the user scrolled up: stop following
    else if (bottom && opts.autoscroll) follow = true;
    $("jump").hidden = bottom;
  }, { passive: true });
  $("jump").addEventListener("click", () => {
    follow = opts.autoscroll;
    programmaticScroll = true;
    scroller.scrollTop = scroller.scrollHeight;
    $("jump").hidden = true;
  });

  // ---------------------------------------------------------------- chat bubbles
  function displayName(username) {
    if (username === "User") return t("you");
    return username;
  }
  function bubble(kind, name, time, bodyNode) {
    const wrap = el("div", "msg " + kind);
    if (name || time) {
      const meta = el("div", "meta");
      if (name) meta.appendChild(el("b", "", name));
      const tm = el("time", "", fmtClock(time));
      if (time) tm.dateTime = time.toISOString();
      meta.appendChild(tm);
      wrap.appendChild(meta);
    }
    const b = el("div", "bubble");
    if (bodyNode) b.appendChild(bodyNode);
    wrap.appendChild(b);
    return wrap;
  }
  function addSystem(text, bad) {
    const node = bubble("system" + (bad ? " bad" : ""), null, null, document.createTextNode(text));
    log.appendChild(node);
    contentChanged();
    return node;
  }
  // Makes the server's rendered markdown usable: copy buttons on code, links that
  // open outside, wide tables that scroll on their own.
  function enhanceMarkdown(root) {
    root.querySelectorAll("a[href]").forEach((a) => {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    });
    root.querySelectorAll("pre").forEach((pre) => {
      if (pre.parentElement && pre.parentElement.classList.contains("codewrap")) return;
      const wrap = el("div", "codewrap");
      const code = pre.querySelector("code");
      const m = code && /(?:^|\s)language-(\S+)/.exec(code.className);
      const bar = el("div", "codebar");
      bar.append(el("span", "lang", m ? m[1] : ""), copyButton(() => pre.textContent));
      pre.replaceWith(wrap);
      wrap.append(bar, pre);
    });
    root.querySelectorAll("table").forEach((table) => {
      const wrap = el("div", "tablewrap");
      table.replaceWith(wrap);
      wrap.appendChild(table);
    });
  }
  function setClaudeBody(msgNode, ev) {
    const b = msgNode.querySelector(".bubble");
    b.textContent = "";
    if (typeof ev.html === "string" && ev.html) {
      b.className = "bubble md";
      b.innerHTML = ev.html; // server-rendered and sanitised (src/markdown.rs)
      enhanceMarkdown(b);
    } else {
      b.className = "bubble plain";
      b.textContent = ev.message || "";
    }
  }

  // ---------------------------------------------------------------- outbox
  // Prompts typed while offline wait here (and in localStorage, across reloads)
  // until the server echoes them back with their client_id.
  let outbox = store.get("outbox", []);
  if (!Array.isArray(outbox)) outbox = [];
  function saveOutbox() {
    store.set("outbox", outbox.map((o) => ({ cid: o.cid, text: o.text, at: o.at, username: o.username })));
  }
  function renderPending(entry) {
    const node = bubble("user pending", t("you"), new Date(entry.at), document.createTextNode(entry.text));
    node.dataset.cid = entry.cid;
    const state = el("span", "state", conn.open ? t("sending") : t("pending"));
    node.querySelector(".meta").appendChild(state);
    pendingBox.appendChild(node);
    entry.node = node;
    contentChanged();
  }
  function refreshPendingStates() {
    outbox.forEach((o) => {
      const s = o.node && o.node.querySelector(".state");
      if (s) s.textContent = conn.open && conn.ready ? t("sending") : t("pending");
    });
  }
  function queuePrompt(text) {
    const entry = { cid: randomId(), text, at: Date.now(), username: "User" };
    outbox.push(entry);
    saveOutbox();
    renderPending(entry);
    flushOutbox();
  }
  function flushOutbox() {
    if (!conn.open || !conn.ready) return;
    outbox.forEach((o) => {
      if (o.sentOn === conn.id) return;
      if (send({ type: "message", username: o.username || "User", message: o.text, client_id: o.cid })) o.sentOn = conn.id;
    });
    refreshPendingStates();
  }
  function delivered(cid) {
    const i = outbox.findIndex((o) => o.cid === cid);
    if (i < 0) return false;
    const [entry] = outbox.splice(i, 1);
    saveOutbox();
    if (entry.node) entry.node.remove();
    return true;
  }
  // Another tab of this browser delivered or queued something.
  window.addEventListener("storage", (e) => {
    if (e.key !== "hc.outbox") return;
    const theirs = store.get("outbox", []);
    const keep = new Set(theirs.map((o) => o.cid));
    outbox.filter((o) => !keep.has(o.cid)).forEach((o) => o.node && o.node.remove());
    outbox = outbox.filter((o) => keep.has(o.cid));
    contentChanged();
  });

  // ---------------------------------------------------------------- messages
  function onMessage(ev) {
    if (ev.username === "Claude") return onClaudeMessage(ev);
    const node = bubble("user", displayName(ev.username), evTime(ev), document.createTextNode(ev.message || ""));
    if (typeof ev.id === "number") node.dataset.promptId = String(ev.id);
    const meta = node.querySelector(".meta");
    if (ev.client_id) {
      node.dataset.cid = ev.client_id;
      if (delivered(ev.client_id)) {
        node.classList.add("delivered");
        meta.appendChild(el("span", "state", t("delivered")));
      }
    }
    if (typeof ev.id === "number" && queue.items.some((q) => q.id === ev.id)) markQueued(node, true);
    log.appendChild(node);
    contentChanged();
  }
  function markQueued(node, on) {
    let tag = node.querySelector(".tag");
    if (on && !tag) {
      tag = el("span", "tag", t("queued"));
      node.querySelector(".meta").appendChild(tag);
    } else if (!on && tag) {
      tag.remove();
    }
  }
  function onClaudeMessage(ev) {
    const run = lastRun && !lastRun.answered ? lastRun : null;
    let node;
    if (run) {
      run.answered = true;
      node = run.live;
      node.hidden = false;
      node.classList.remove("streaming", "partial");
      run.liveText = null;
    } else {
      node = bubble("claude", t("claude"), evTime(ev), null);
      log.appendChild(node);
    }
    const tm = node.querySelector("time");
    const when = evTime(ev);
    if (tm && when) tm.textContent = fmtClock(when);
    setClaudeBody(node, ev);
    lastAnswer = ev.message || "";
    contentChanged();
  }

  // ---------------------------------------------------------------- runs
  const runs = new Map();
  let lastRun = null;
  let lastAnswer = "";
  function newRun(id, promptId) {
    const card = el("section", "run running");
    card.dataset.run = String(id);
    const head = el("div", "run-head");
    const status = el("span", "status-icon");
    const label = el("span", "label", t("working"));
    const model = el("span", "model");
    model.hidden = true;
    const elapsed = el("span", "elapsed", "0.0s");
    head.append(status, label, model, elapsed);
    const bar = el("div", "bar");
    const barFill = el("span");
    bar.appendChild(barFill);
    bar.hidden = true;
    const steps = el("div", "steps");
    const foot = el("div", "run-foot");
    card.append(head, bar, steps, foot);

    const live = bubble("claude streaming", t("claude"), null, null);
    live.querySelector(".bubble").className = "bubble plain";
    live.hidden = true;

    // Read in order: a run sits right after the prompt it answers.
    const prompt = promptId !== undefined ? log.querySelector('.msg.user[data-prompt-id="' + promptId + '"]') : null;
    if (prompt) {
      markQueued(prompt, false);
      prompt.after(card, live);
    } else {
      log.append(card, live);
    }
    const run = {
      id, card, label, model, elapsed, bar, barFill, steps, foot, live,
      tools: new Map(), state: "running", started: null, done: "", part: "",
      answered: false, lastTodo: null,
    };
    runs.set(id, run);
    lastRun = run;
    return run;
  }
  function getRun(ev) {
    let run = runs.get(ev.run);
    if (!run) run = newRun(ev.run, ev.progress_type === "start" ? ev.prompt_id : undefined);
    return run;
  }
  function setRunState(run, state) {
    run.state = state;
    run.card.classList.remove("running", "done", "failed", "stopped");
    run.card.classList.add(state);
    run.label.textContent = t(state === "running" ? "working" : state);
    if (state !== "running") {
      run.live.classList.remove("streaming");
      run.tools.forEach((row) => row.classList.contains("active") && row.classList.remove("active"));
      if (run.started && !run.durationSet) run.elapsed.textContent = fmtDuration((Date.now() - run.started) / 1000);
    }
    tickRuns();
    updateBusy();
  }
  function liveRender(run) {
    const text = run.done + (run.done && run.part ? "\n\n" : "") + run.part;
    const b = run.live.querySelector(".bubble");
    b.textContent = text;
    run.live.hidden = !text;
    if (text) {
      const tm = run.live.querySelector("time");
      if (tm && !tm.textContent) tm.textContent = fmtClock(conn.replaying ? null : new Date());
    }
  }
  // Text Claude wrote before a tool call is narration: it moves into the card, so
  // the bubble below only ever holds the answer being written.
  function moveNarration(run) {
    const text = run.done + (run.done && run.part ? "\n\n" : "") + run.part;
    if (!text.trim()) return;
    const step = el("div", "step narration");
    const row = el("div", "row");
    row.append(icon("note"), el("div", "text", text));
    step.appendChild(row);
    run.steps.appendChild(step);
    run.done = "";
    run.part = "";
    liveRender(run);
  }
  function addStep(run, cls, iconName, name, detail) {
    const d = el("details", "step " + cls);
    const s = el("summary");
    s.appendChild(icon(iconName));
    s.appendChild(el("span", "tname", name));
    // Always there (empty when there is no detail): it takes the free width, so
    // every row's meta, state and chevron line up on the right.
    const dt = el("span", "tdetail", detail || "");
    if (detail) dt.title = detail;
    s.appendChild(dt);
    d.appendChild(s);
    const body = el("div", "tbody");
    d.appendChild(body);
    run.steps.appendChild(d);
    return d;
  }
  function notice(run, cls, iconName, text) {
    const step = el("div", "step " + cls);
    const row = el("div", "row");
    row.append(icon(iconName), el("span", "text", text));
    step.appendChild(row);
    run.steps.appendChild(step);
  }

  // A line diff small enough for 500-character excerpts: LCS over lines.
  function lineDiff(a, b) {
    const x = a.split("\n");
    const y = b.split("\n");
    if (x.length * y.length > 40000) {
      return x.map((l) => ["del", l]).concat(y.map((l) => ["add", l]));
    }
    const n = x.length;
    const m = y.length;
    const L = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
      }
    }
    const out = [];
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (x[i] === y[j]) {
        out.push(["ctx", x[i]]);
        i++;
        j++;
      } else if (L[i + 1][j] >= L[i][j + 1]) {
        out.push(["del", x[i++]]);
      } else {
        out.push(["add", y[j++]]);
      }
    }
    while (i < n) out.push(["del", x[i++]]);
    while (j < m) out.push(["add", y[j++]]);
    return out;
  }
  function diffView(old, now) {
    const pre = el("pre", "diff");
    const sign = { del: "- ", add: "+ ", ctx: "  " };
    lineDiff(old || "", now || "").forEach(([kind, line]) => pre.appendChild(el("span", kind, sign[kind] + line)));
    return pre;
  }
  function todoList(todos) {
    const ul = el("ul", "todos");
    (todos || []).forEach((td) => {
      const status = td && typeof td.status === "string" ? td.status : "pending";
      const text = (td && (status === "in_progress" && td.activeForm ? td.activeForm : td.content)) || "";
      const li = el("li", status.replace(/[^a-z_]/g, ""), text);
      ul.appendChild(li);
    });
    return ul;
  }
  function updateTodoBar(run, todos) {
    const total = (todos || []).length;
    if (!total) return;
    const doneCount = todos.filter((td) => td && td.status === "completed").length;
    run.bar.hidden = false;
    run.barFill.style.width = Math.round((100 * doneCount) / total) + "%";
    return [doneCount, total];
  }

  function onToolStart(run, ev) {
    moveNarration(run);
    const tool = ev.tool || "?";
    const info = ev.edit_info || null;
    const row = addStep(run, "tool active tool-" + tool.toLowerCase().replace(/[^a-z0-9_-]/g, ""), TOOL_ICONS[tool] || "tool", tool, ev.detail || "");
    const s = row.querySelector("summary");
    s.appendChild(el("span", "tmeta"));
    s.appendChild(el("span", "tstate"));
    const body = row.querySelector(".tbody");
    if (info && info.type === "edit") {
      body.appendChild(el("div", "file", info.file || ev.detail || ""));
      body.appendChild(diffView(info.old, info.new));
    } else if (info && info.type === "write") {
      body.appendChild(el("div", "file", info.file || ev.detail || ""));
      body.appendChild(el("pre", "", info.content || ""));
    } else if (info && info.type === "todo") {
      body.appendChild(todoList(info.todos));
      const counts = updateTodoBar(run, info.todos);
      if (counts) row.querySelector(".tmeta").textContent = t("todoCount", counts[0], counts[1]);
      // Only the newest list stays open: it is the plan as it stands.
      if (run.lastTodo) run.lastTodo.open = false;
      row.open = true;
      run.lastTodo = row;
    } else if (tool === "Bash" && ev.detail) {
      body.appendChild(el("pre", "cmd", "$ " + ev.detail));
    } else if (ev.detail && ev.detail.length > 40) {
      body.appendChild(el("pre", "", ev.detail));
    }
    if (ev.tool_use_id) run.tools.set(ev.tool_use_id, row);
    run.lastTool = row;
  }
  function onToolEnd(run, ev) {
    let row = ev.tool_use_id ? run.tools.get(ev.tool_use_id) : null;
    if (!row) row = run.lastTool;
    if (!row) return;
    row.classList.remove("active");
    row.classList.add(ev.is_error ? "err" : "ok");
    const meta = row.querySelector(".tmeta");
    if (typeof ev.lines === "number" && meta) meta.textContent = t("lines", fmtInt(ev.lines));
    const body = row.querySelector(".tbody");
    const tool = row.querySelector(".tname").textContent;
    const quiet = !ev.is_error && (tool === "Edit" || tool === "Write" || tool === "TodoWrite" || tool === "MultiEdit");
    if (ev.output && !quiet) {
      body.appendChild(el("pre", ev.is_error ? "err" : "out", ev.output));
      const full = ev.output_bytes;
      const shown = new TextEncoder().encode(ev.output).length;
      if (typeof full === "number" && full > shown) body.appendChild(el("div", "cut", t("cut", fmtInt(shown), fmtInt(full))));
    }
    if (ev.is_error) row.open = true;
  }

  function onProgress(ev) {
    const run = getRun(ev);
    switch (ev.progress_type) {
      case "start":
        run.started = (evTime(ev) || new Date()).getTime();
        run.replayedStart = conn.replaying && typeof ev.ts !== "number";
        setRunState(run, "running");
        break;
      case "init":
        if (ev.model) {
          run.model.textContent = ev.model;
          run.model.hidden = false;
        }
        break;
      case "session":
        if (ev.resume_command || ev.session_id) {
          const cmd = ev.resume_command || "claude --resume " + ev.session_id;
          let r = run.foot.querySelector(".resume");
          if (!r) {
            r = el("div", "resume");
            run.foot.appendChild(r);
          }
          r.textContent = "";
          r.append(el("span", "", t("resume")), el("code", "", cmd), copyButton(() => cmd));
        }
        break;
      case "text_delta":
        run.part += ev.text || "";
        if (run.state === "running") run.live.classList.add("streaming");
        liveRender(run);
        break;
      case "text":
        run.done += (run.done ? "\n\n" : "") + (ev.text || "");
        run.part = "";
        liveRender(run);
        break;
      case "thinking": {
        moveNarration(run);
        const step = addStep(run, "thinking", "thinking", t("thinking"), "");
        step.querySelector(".tbody").appendChild(el("div", "thinking-text", ev.text || ""));
        break;
      }
      case "tool_start":
        onToolStart(run, ev);
        break;
      case "tool_end":
        onToolEnd(run, ev);
        break;
      case "complete": {
        run.durationSet = true;
        run.elapsed.textContent = fmtDuration(ev.duration_sec || 0);
        let s = run.foot.querySelector(".stats");
        if (!s) {
          s = el("div", "stats");
          run.foot.prepend(s);
        }
        s.textContent = t("stats", fmtDuration(ev.duration_sec || 0), fmtCost(ev.cost_usd), fmtInt(ev.input_tokens), fmtInt(ev.output_tokens), fmtInt(ev.turns));
        setRunState(run, "done");
        break;
      }
      case "error":
        notice(run, "failure", "alert", ev.message || t("failed"));
        endPartial(run);
        setRunState(run, "failed");
        break;
      case "stopped":
        notice(run, "notice", "stop", ev.message || t("stopped"));
        endPartial(run);
        setRunState(run, "stopped");
        break;
      case "retry":
        notice(run, "notice", "alert", ev.message || t("retry"));
        break;
      default:
        break;
    }
    contentChanged();
  }
  function endPartial(run) {
    if (!run.answered && (run.done || run.part)) run.live.classList.add("partial");
  }

  // One timer for every running card's elapsed time.
  let ticker = 0;
  function tickRuns() {
    let any = false;
    runs.forEach((run) => {
      if (run.state !== "running" || !run.started) return;
      any = true;
      if (!run.durationSet) run.elapsed.textContent = fmtDuration((Date.now() - run.started) / 1000);
    });
    if (any && !ticker) ticker = setInterval(tickRuns, 500);
    if (!any && ticker) {
      clearInterval(ticker);
      ticker = 0;
    }
  }

  // ---------------------------------------------------------------- queue
  const queue = { count: 0, items: [], running: false };
  let queueOpen = store.get("queueOpen", true);
  function onQueue(ev) {
    queue.count = typeof ev.count === "number" ? ev.count : (ev.items || []).length;
    queue.items = Array.isArray(ev.items) ? ev.items : [];
    queue.running = !!ev.running;
    const ids = new Set(queue.items.map((q) => q.id));
    log.querySelectorAll(".msg.user[data-prompt-id]").forEach((n) => {
      if (!ids.has(Number(n.dataset.promptId))) markQueued(n, false);
      else markQueued(n, true);
    });
    renderQueue();
    updateBusy();
  }
  function renderQueue() {
    const box = $("queue");
    box.hidden = queue.count === 0;
    $("queue-count").textContent = t("queueCount", queue.count);
    $("queue-toggle").setAttribute("aria-expanded", String(queueOpen));
    const list = $("queue-list");
    list.hidden = !queueOpen;
    list.textContent = "";
    queue.items.forEach((item) => {
      const li = el("li");
      li.dataset.id = String(item.id);
      li.append(el("span", "qsender", "#" + item.id), el("span", "qtext", item.message || ""));
      const b = el("button", "icon-btn cancel");
      b.type = "button";
      b.title = t("cancelItem", item.id);
      b.setAttribute("aria-label", t("cancelItem", item.id));
      b.appendChild(icon("close"));
      b.addEventListener("click", () => command("cancel", { id: item.id }));
      li.appendChild(b);
      list.appendChild(li);
    });
  }
  $("queue-toggle").addEventListener("click", () => {
    queueOpen = !queueOpen;
    store.set("queueOpen", queueOpen);
    renderQueue();
  });

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
      if (navigator.vibrate) navigator.vibrate([120, 80, 120]);
    }
    if (opts.notify && document.hidden && "Notification" in window && Notification.permission === "granted") {
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

  // ---------------------------------------------------------------- usage
  let usage = null;
  function onUsage(ev) {
    usage = ev;
    renderUsage();
  }
  function renderUsage() {
    const box = $("usage");
    if (!usage) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    box.title = t("usageTitle");
    const today = usage.today && typeof usage.today.totalCost === "number" ? usage.today.totalCost : null;
    const ut = $("u-today");
    ut.hidden = today === null;
    ut.textContent = t("usageToday", fmtUsd(today));
    ut.className = "u-item" + (today >= USAGE.dangerUsd * 2 ? " danger" : today >= USAGE.warnUsd * 2 ? " warn" : "");
    const block = usage.block;
    const ub = $("u-block");
    if (block && typeof block.costUSD === "number") {
      ub.hidden = false;
      const left = typeof block.remainingMinutes === "number" ? block.remainingMinutes : null;
      ub.textContent = t("usageBlock", fmtUsd(block.costUSD), left === null ? "–" : fmtMinutes(left));
      const danger = block.costUSD >= USAGE.dangerUsd || (left !== null && left <= USAGE.dangerMinutes);
      const warn = block.costUSD >= USAGE.warnUsd || (left !== null && left <= USAGE.warnMinutes);
      ub.className = "u-item" + (danger ? " danger" : warn ? " warn" : "");
    } else {
      ub.hidden = true;
    }
  }

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
    setConn("connecting");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let ws;
    try {
      ws = new WebSocket(scheme + location.host + "/ws?last_seq=" + conn.lastSeq);
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
      if (e.code === 4000) {
        connectSoon(0);
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
    send({ type: "command", command: "request_usage" });
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
  window.addEventListener("online", connectNow);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      connectNow(); // a phone waking up: do not wait for the back-off
      wakeLock();
    }
  });
  setInterval(() => send({ type: "ping" }), PING_MS);

  function dispatch(ev) {
    switch (ev.type) {
      case "message":
        onMessage(ev);
        break;
      case "system":
        addSystem(ev.message || "");
        break;
      case "progress":
        onProgress(ev);
        break;
      case "queue_status":
        onQueue(ev);
        break;
      case "usage_status":
        onUsage(ev);
        break;
      case "sessions":
        onSessions(ev);
        break;
      // Approval cards: templates/static/js/approvals.js (the page's next version).
      case "approval":
      case "approval_resolved":
      case "permission_mode":
        break;
      case "error":
        if (ev.code === "read_only") setViewer(true);
        if (ev.code === "history_gap") addSystem(t("err_history_gap"), true);
        else if (ev.code === "usage_unavailable") break;
        else toast(STRINGS.en["err_" + ev.code] ? t("err_" + ev.code) : ev.message || ev.code || "error");
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- composer
  const prompt = $("prompt");
  function growInput() {
    prompt.style.height = "auto";
    prompt.style.height = Math.min(prompt.scrollHeight + 2, Math.round(window.innerHeight * 0.4)) + "px";
  }
  prompt.addEventListener("input", growInput);
  // Enter sends with a keyboard and a mouse; on a phone keyboard Enter is a new line
  // and the button sends. Never while an IME (Korean) is composing.
  const touchOnly = () => window.matchMedia("(pointer: coarse)").matches && !window.matchMedia("(any-pointer: fine)").matches;
  prompt.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.isComposing || e.keyCode === 229) return;
    if (e.ctrlKey || e.metaKey || (!e.shiftKey && !e.altKey && !touchOnly())) {
      e.preventDefault();
      submit();
    }
  });
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  function submit() {
    const text = prompt.value.trim();
    if (!text) return;
    if (text === "/clear" || text === "/new") {
      if (command("clear")) clearInput();
      return;
    }
    if (text === "/stop") {
      if (command("stop")) clearInput();
      return;
    }
    clearInput();
    queuePrompt(text);
  }
  function clearInput() {
    prompt.value = "";
    growInput();
    follow = opts.autoscroll || follow;
    contentChanged();
  }
  $("stop").addEventListener("click", () => command("stop"));

  // ---------------------------------------------------------------- header and settings
  // Earlier Claude sessions of this project (the CLI's own store, so sessions
  // started in a terminal too): listed on request, one tap continues one.
  function onSessions(ev) {
    const list = $("session-list");
    list.textContent = "";
    list.hidden = false;
    const items = Array.isArray(ev.items) ? ev.items : [];
    if (!items.length) {
      list.appendChild(el("li", "session-empty", t("sessionsEmpty")));
      return;
    }
    items.slice(0, 50).forEach((item) => {
      const li = el("li", "session-item");
      const text = el("div", "session-text");
      text.appendChild(el("span", "session-title", item.title || item.id));
      const when = item.updated ? new Date(item.updated) : null;
      const meta = [when && !isNaN(when) ? when.toLocaleString() : ""];
      if (typeof item.cost_usd === "number") meta.push("$" + item.cost_usd.toFixed(2));
      if (item.id === ev.current) meta.push(t("sessionCurrent"));
      text.appendChild(el("small", "session-meta", meta.filter(Boolean).join(" · ")));
      li.appendChild(text);
      if (item.id !== ev.current && !document.body.classList.contains("viewer")) {
        const go = el("button", "btn", t("sessionContinue"));
        go.type = "button";
        go.addEventListener("click", () => {
          if (command("resume", { session: item.id })) $("menu").close();
        });
        li.appendChild(go);
      }
      list.appendChild(li);
    });
  }
  $("act-sessions").addEventListener("click", () => command("sessions"));

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
  $("act-restart").addEventListener("click", () => {
    if (window.confirm(t("restartConfirm"))) {
      menu.close();
      command("restart");
    }
  });
  $("opt-lang").addEventListener("change", (e) => {
    lang = STRINGS[e.target.value] ? e.target.value : "en";
    store.set("lang", lang);
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
    ["composer", "new-session", "act-new", "act-restart"].forEach((id) => ($(id).hidden = on));
  }

  // ---------------------------------------------------------------- start
  setViewer(document.documentElement.dataset.role === "viewer");
  document.querySelectorAll("[data-icon]").forEach((b) => b.prepend(icon(b.dataset.icon)));
  applyLang();
  outbox.forEach(renderPending);
  contentChanged();
  connect();

  // For the end-to-end tests and curious people: read-only state.
  window.homeclaude = {
    get lastSeq() {
      return conn.lastSeq;
    },
    get connected() {
      return conn.open && conn.ready;
    },
    get outbox() {
      return outbox.map((o) => o.cid);
    },
  };
})();
