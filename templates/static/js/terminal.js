// Shell commands (`!cmd` in the chat box): a card per command with its output,
// ANSI colours (SGR only) drawn by our own small parser, a Stop button for the owner.

// ---------------------------------------------------------------- ANSI
// SGR state -> classes: the 16 colours and bold come from app.css (light and dark);
// 256-colour and true-colour values are set through the CSSOM. Every other escape
// sequence (cursor moves, titles, erase) is dropped.
const ANSI_256 = (n) => {
  if (n < 16) return null;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return "rgb(" + v + "," + v + "," + v + ")";
  }
  const c = n - 16;
  const lv = (x) => (x ? 55 + x * 40 : 0);
  return "rgb(" + lv(Math.floor(c / 36)) + "," + lv(Math.floor(c / 6) % 6) + "," + lv(c % 6) + ")";
};
function sgr(state, params) {
  const p = params === "" ? [0] : params.split(";").map((x) => (x === "" ? 0 : parseInt(x, 10)));
  for (let i = 0; i < p.length; i++) {
    const n = p[i];
    if (n === 0) Object.assign(state, { fg: null, bg: null, bold: false, dim: false, italic: false, under: false });
    else if (n === 1) state.bold = true;
    else if (n === 2) state.dim = true;
    else if (n === 3) state.italic = true;
    else if (n === 4) state.under = true;
    else if (n === 22) state.bold = state.dim = false;
    else if (n === 23) state.italic = false;
    else if (n === 24) state.under = false;
    else if (n >= 30 && n <= 37) state.fg = n - 30;
    else if (n >= 90 && n <= 97) state.fg = n - 90 + 8;
    else if (n === 39) state.fg = null;
    else if (n >= 40 && n <= 47) state.bg = n - 40;
    else if (n >= 100 && n <= 107) state.bg = n - 100 + 8;
    else if (n === 49) state.bg = null;
    else if ((n === 38 || n === 48) && p[i + 1] === 5) {
      const v = p[i + 2] | 0;
      state[n === 38 ? "fg" : "bg"] = v < 16 ? v : ANSI_256(v);
      i += 2;
    } else if ((n === 38 || n === 48) && p[i + 1] === 2) {
      const rgb = [p[i + 2], p[i + 3], p[i + 4]].map((x) => Math.max(0, Math.min(255, x | 0)));
      state[n === 38 ? "fg" : "bg"] = "rgb(" + rgb.join(",") + ")";
      i += 4;
    }
  }
}
function styledSpan(state, text) {
  const s = el("span", "", text);
  const cls = [];
  if (typeof state.fg === "number") cls.push("af" + state.fg);
  else if (state.fg) s.style.color = state.fg;
  if (typeof state.bg === "number") cls.push("ab" + state.bg);
  else if (state.bg) s.style.backgroundColor = state.bg;
  if (state.bold) cls.push("abold");
  if (state.dim) cls.push("adim");
  if (state.italic) cls.push("aital");
  if (state.under) cls.push("aunder");
  s.className = cls.join(" ");
  return s;
}
// Appends `text` (one chunk of a stream) to `out`, keeping SGR state and a cut
// escape sequence in `st` for the next chunk.
function appendAnsi(out, st, text, cls) {
  text = st.rest + text;
  st.rest = "";
  // A sequence cut at the end of the chunk waits for the next one.
  const cut = /\x1b(\[[0-?]*[ -/]*|\][^\x07\x1b]*|)$/.exec(text);
  if (cut) {
    st.rest = cut[0];
    text = text.slice(0, cut.index);
  }
  const frag = document.createDocumentFragment();
  const re = /\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;
  let at = 0;
  const plain = (s) => {
    // Terminal line endings; other control characters are dropped (tab and newline stay).
    s = s.replace(/\r\n/g, "\n").replace(/\r/g, "\n").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
    if (!s) return;
    const span = styledSpan(st, s);
    if (cls) span.classList.add(cls);
    frag.appendChild(span);
  };
  let m;
  while ((m = re.exec(text))) {
    plain(text.slice(at, m.index));
    if (m[2] === "m") sgr(st, m[1]);
    at = re.lastIndex;
  }
  plain(text.slice(at));
  out.appendChild(frag);
}

// ---------------------------------------------------------------- shell cards
const shells = new Map();
// Ids of our own `shell` frames not yet started, to word a refusal.
const pendingShells = new Set();
function runShell(command) {
  if (!command) return false;
  const id = "sh-" + randomId();
  if (!send({ type: "shell", id, command })) {
    toast(t("offlineCommand"));
    return false;
  }
  pendingShells.add(id);
  return true;
}
function onShellStart(ev) {
  pendingShells.delete(ev.client_id);
  if (shells.has(ev.id)) return;
  const card = el("section", "run shell running");
  card.dataset.shell = String(ev.id);
  const head = el("div", "run-head");
  const status = el("span", "status-icon");
  const label = el("span", "label", "$");
  const cmd = el("code", "shell-cmd", ev.command || "");
  cmd.title = ev.command || "";
  const elapsed = el("span", "elapsed", "");
  const stop = el("button", "shell-stop icon-btn");
  stop.type = "button";
  stop.title = t("shellStop");
  stop.setAttribute("aria-label", t("shellStop"));
  stop.appendChild(icon("stop"));
  stop.addEventListener("click", () => {
    if (!send({ type: "shell_stop", id: ev.id })) toast(t("offlineCommand"));
  });
  head.append(status, label, cmd, elapsed, stop);
  const out = el("pre", "shell-out");
  out.hidden = true;
  const more = el("button", "link-btn shell-more", t("shellShowAll"));
  more.type = "button";
  more.hidden = true;
  more.addEventListener("click", () => {
    const open = card.classList.toggle("expanded");
    more.textContent = t(open ? "shellShowLess" : "shellShowAll");
  });
  const foot = el("div", "run-foot");
  foot.appendChild(el("div", "shell-note", t("shellNoTty")));
  card.append(head, out, more, foot);
  log.appendChild(card);
  const when = evTime(ev);
  const sh = { id: ev.id, card, out, more, foot, elapsed, stop, by: ev.by, started: when ? when.getTime() : null, ansi: { stdout: { rest: "" }, stderr: { rest: "" } } };
  Object.values(sh.ansi).forEach((st) => sgr(st, ""));
  shells.set(ev.id, sh);
  tickShells();
  contentChanged();
}
function onShellOutput(ev) {
  const sh = shells.get(ev.id);
  if (!sh) return;
  if (typeof ev.omitted === "number" && ev.omitted > 0) {
    sh.out.appendChild(el("span", "shell-omitted", t("shellOmitted", fmtSize(ev.omitted))));
  }
  const stream = ev.stream === "stderr" ? "stderr" : "stdout";
  appendAnsi(sh.out, sh.ansi[stream], String(ev.data || ""), stream === "stderr" ? "se" : "");
  sh.out.hidden = !sh.out.childElementCount;
  // Long output stays collapsed to a window the user can open.
  sh.more.hidden = sh.card.classList.contains("expanded") ? false : sh.out.scrollHeight <= sh.out.clientHeight + 2;
  if (!sh.card.classList.contains("expanded")) sh.out.scrollTop = sh.out.scrollHeight;
  contentChanged();
}
function onShellExit(ev) {
  const sh = shells.get(ev.id);
  if (!sh) return;
  const ok = ev.code === 0;
  sh.card.classList.remove("running");
  sh.card.classList.add(ok ? "done" : ev.signal || ev.interrupted ? "stopped" : "failed");
  sh.stop.hidden = true;
  sh.ended = true;
  // A command the server lost at a restart has no known duration.
  sh.elapsed.textContent = ev.interrupted ? "" : fmtDuration(ev.duration_sec || 0);
  sh.foot.textContent = "";
  const parts = [];
  if (typeof ev.code === "number") parts.push(t("shellExit", ev.code));
  if (ev.signal) parts.push(t("shellSignal", ev.signal));
  if (ev.timed_out) parts.push(t("shellTimedOut"));
  if (ev.interrupted) parts.push(t("shellInterrupted"));
  if (typeof ev.omitted === "number" && ev.omitted > 0) parts.push(t("shellOmitted", fmtSize(ev.omitted)));
  if (sh.by) parts.push(t("shellBy", displayName(sh.by)));
  sh.foot.appendChild(el("div", "stats", parts.join(" · ")));
  tickShells();
  contentChanged();
}
let shellTicker = 0;
function tickShells() {
  let any = false;
  shells.forEach((sh) => {
    if (sh.ended || !sh.started) return;
    any = true;
    sh.elapsed.textContent = fmtDuration((Date.now() - sh.started) / 1000);
  });
  if (any && !shellTicker) shellTicker = setInterval(tickShells, 500);
  if (!any && shellTicker) {
    clearInterval(shellTicker);
    shellTicker = 0;
  }
}
// A refusal of one of our own `shell` frames: say it in the shell's words.
function shellRefused(ev) {
  if (!pendingShells.has(ev.id)) return false;
  pendingShells.delete(ev.id);
  if (ev.code === "busy") {
    toast(t("shellBusy"));
    return true;
  }
  return false;
}
