// The settings sheet's lists: Claude's sessions (continue one) and this server's
// own conversation logs (read one, read-only).

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
    if (typeof item.cost_usd === "number") meta.push(fmtMoney(item.cost_usd));
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

// ---------------------------------------------------------------- conversation logs
// Every conversation this server kept (<data_dir>/history), from GET /api/logs; one
// opens read-only in a sheet of its own: prompts, Claude's notes and answers, tools.
function fmtSize(bytes) {
  if (typeof bytes !== "number") return "";
  return bytes < 1024 ? bytes + " B" : bytes < 1048576 ? Math.round(bytes / 1024) + " KB" : (bytes / 1048576).toFixed(1) + " MB";
}
function fmtWhen(ms) {
  if (typeof ms !== "number") return "";
  const d = new Date(ms);
  try {
    return d.toLocaleString(lang === "ko" ? "ko-KR" : "en-GB", { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  } catch (_) {
    return d.toISOString().slice(0, 16).replace("T", " ");
  }
}
function showLogs() {
  const list = $("log-list");
  list.hidden = false;
  list.textContent = "";
  list.appendChild(el("li", "session-empty", t("loading")));
  fetch("/api/logs", { cache: "no-store", credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((data) => {
      list.textContent = "";
      const items = data && Array.isArray(data.items) ? data.items : [];
      if (!items.length) list.appendChild(el("li", "session-empty", t("logsEmpty")));
      items.forEach((item) => {
        const li = el("li", "session-item");
        const text = el("div", "session-text");
        text.appendChild(el("span", "session-title", item.prompt || t("logNoPrompt")));
        const when = fmtWhen(item.first) + (item.last && item.last - item.first > 60000 ? " – " + fmtWhen(item.last) : "");
        text.appendChild(el("small", "session-meta", [when, fmtSize(item.size)].filter(Boolean).join(" · ")));
        li.appendChild(text);
        const read = el("button", "btn", t("logRead"));
        read.type = "button";
        read.addEventListener("click", () => openLog(String(item.key), item.prompt || ""));
        li.appendChild(read);
        list.appendChild(li);
      });
    })
    .catch(() => {
      list.textContent = "";
      list.appendChild(el("li", "session-empty", t("logsUnavailable")));
    });
}
$("act-logs").addEventListener("click", showLogs);
function openLog(key, title) {
  if (!/^[0-9]{1,20}$/.test(key)) return;
  const view = $("log-view");
  const body = $("log-body");
  $("log-view-title").textContent = title || t("logTitle");
  body.textContent = "";
  body.appendChild(el("p", "note", t("loading")));
  if (!view.open) view.showModal();
  fetch("/api/logs/" + key, { cache: "no-store", credentials: "same-origin" })
    .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
    .then((text) => {
      body.textContent = "";
      text.split("\n").forEach((line) => {
        let ev;
        try {
          ev = JSON.parse(line);
        } catch (_) {
          return; // a torn last line
        }
        const node = ev && typeof ev === "object" ? logEntry(ev) : null;
        if (node) body.appendChild(node);
      });
      if (!body.childElementCount) body.appendChild(el("p", "note", t("logsEmpty")));
    })
    .catch(() => {
      body.textContent = "";
      body.appendChild(el("p", "note", t("logsUnavailable")));
    });
}
// One kept event, read-only: prompts and answers as bubbles, notes and tools as
// one line each.
function logEntry(ev) {
  const when = typeof ev.ts === "number" ? new Date(ev.ts) : null;
  if (ev.type === "message" && ev.username === "Claude") {
    const node = bubble("claude", t("claude"), when, null);
    setClaudeBody(node, ev);
    return node;
  }
  if (ev.type === "message") return bubble("user", displayName(ev.username), when, document.createTextNode(ev.message || ""));
  if (ev.type === "system") return bubble("system", null, null, document.createTextNode(ev.message || ""));
  if (ev.type === "shell_start") {
    const row = el("div", "log-tool");
    row.append(icon("bash"), el("span", "tname", "$"), el("span", "tdetail", ev.command || ""));
    return row;
  }
  if (ev.type !== "progress") return null;
  if (ev.progress_type === "tool_start") {
    const info = ev.edit_info;
    const detail = info && info.type === "todo" && Array.isArray(info.todos) ? t("todoItems", info.todos.length) : ev.detail || "";
    const row = el("div", "log-tool");
    row.append(icon(TOOL_ICONS[ev.tool] || "tool"), el("span", "tname", ev.tool || "?"), el("span", "tdetail", detail));
    return row;
  }
  if (ev.progress_type === "complete") {
    return el("div", "stats", t("stats", fmtDuration(ev.duration_sec || 0), fmtCost(ev.cost_usd), fmtInt(ev.input_tokens), fmtInt(ev.output_tokens)) +
      " · " + t(ev.turns === 1 ? "turnOne" : "turns", fmtInt(ev.turns)));
  }
  if (ev.progress_type === "error" || ev.progress_type === "stopped") {
    return el("div", "log-tool", ev.message || t(ev.progress_type === "error" ? "failed" : "stopped"));
  }
  return null;
}
$("log-view-close").addEventListener("click", () => $("log-view").close());
$("log-view").addEventListener("click", (e) => {
  if (e.target === $("log-view")) $("log-view").close();
});
