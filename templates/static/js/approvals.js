// Answering Claude from the page (issue 23): tool approvals, questions, plans,
// and the session's permission mode.
//
// The server sends `approval` (a request that waits, with `seq`; pending ones
// again on every connect, so they are de-duplicated by `id`) and
// `approval_resolved` (the outcome, whoever answered). A card sits in the run's
// story; while any waits, the tab title says so, a strip offers a jump to it when
// it is out of view, and the page plays a sound and vibrates once per request.
// Untrusted text goes in with textContent; the plan's `html` is the server's
// rendered, sanitised markdown, inserted like an answer's.

// ---------------------------------------------------------------- approvals
ICONS.wait = "M7 3h10M7 21h10M8 3v3c0 3 8 4 8 6s-8 3-8 6v3M16 3v3c0 3-8 4-8 6s8 3 8 6v3";
ICONS.question = "M9.5 9a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6V14M12 17.5v.01M21 12a9 9 0 1 1-18 0a9 9 0 1 1 18 0z";
ICONS.check = "M5 12.5l4.5 4.5L19 7";
ICONS.plan = "M9 4h6v3H9zM7 5.5H5V21h14V5.5h-2M8.5 12h7M8.5 16h5";

const approvals = new Map(); // id -> { ev, card, state: "pending"|"sending"|<outcome> }
const earlyOutcomes = new Map(); // outcomes that came before their request
const baseTitle = document.title;
// For Claude, not for the person: the model reads it as the tool's result.
const SKIP_MESSAGE = "The user chose not to answer these questions.";
const APPROVAL_ASK = { Bash: "apAskBash", Write: "apAskWrite", Edit: "apAskEdit", MultiEdit: "apAskEdit", NotebookEdit: "apAskEdit", WebFetch: "apAskWebFetch", Read: "apAskRead" };

function onApproval(ev) {
  if (typeof ev.id !== "string" || !ev.id) return;
  const known = approvals.get(ev.id);
  if (known) {
    // Sent again (a reconnect): still waiting, so an answer that did not make it
    // can be given again.
    if (known.state === "sending") setApprovalState(known, "pending");
    return;
  }
  const a = { ev, card: null, state: "pending", sendTimer: 0 };
  a.card = approvalCard(a);
  approvals.set(ev.id, a);
  const run = runs.get(ev.run);
  if (run) run.steps.appendChild(a.card);
  else log.appendChild(a.card);
  watchApproval(a);
  const outcome = earlyOutcomes.get(ev.id);
  if (outcome) {
    earlyOutcomes.delete(ev.id);
    resolveApproval(a, outcome, false);
  } else if (!conn.replaying || conn.id > 1) {
    // Live, or first seen on a reconnect (a phone waking up): call the person.
    approvalAlert(ev);
  }
  updateWaiting();
  contentChanged();
}
function onApprovalResolved(ev) {
  const a = approvals.get(ev.id);
  if (!a) {
    if (typeof ev.id === "string") earlyOutcomes.set(ev.id, ev);
    return;
  }
  resolveApproval(a, ev, !conn.replaying);
  updateWaiting();
  contentChanged();
}
// `already_resolved` / `unknown_approval` for an answer this page sent.
function approvalRefused(ev) {
  const a = typeof ev.id === "string" ? approvals.get(ev.id) : null;
  if (!a || !isWaiting(a)) return;
  if (ev.code === "unknown_approval") {
    resolveApproval(a, { decision: "gone" }, true);
    updateWaiting();
  }
  // already_resolved: its approval_resolved is on its way and says by whom.
}

function isWaiting(a) {
  return a.state === "pending" || a.state === "sending";
}
function byWord(by) {
  if (!by) return t("apBySomeone");
  return by === "owner" ? t("apByOwner") : String(by);
}
function outcomeText(kind, decision, by, stopped) {
  const who = byWord(by);
  if (decision === "cancelled" || decision === "timed_out" || decision === "gone") return t("apOut_" + decision);
  if (kind === "plan" && (decision === "allow" || decision === "allow_always")) return t("apOutPlanAllow", who);
  if (kind === "plan" && decision === "deny") return t("apOutPlanDeny", who);
  if (kind === "question" && decision === "deny") return t("apOutQuestionDeny", who);
  if (decision === "deny" && stopped) return t("apOutDenyStop", who);
  if (["allow", "allow_always", "deny", "answered"].includes(decision)) return t("apOut_" + decision, who);
  return t("apOut_other", String(decision || ""), who);
}
function resolveApproval(a, ev, live) {
  clearTimeout(a.sendTimer);
  a.state = ev.decision || "gone";
  a.outcome = ev;
  const card = a.card;
  card.classList.remove("pending", "sending");
  card.querySelector(".ap-sending").hidden = true;
  card.classList.add("resolved", "out-" + String(a.state).replace(/[^a-z_]/g, ""));
  card.querySelectorAll("button, input, textarea").forEach((c) => (c.disabled = true));
  const out = card.querySelector(".ap-outcome");
  out.textContent = "";
  const good = a.state === "allow" || a.state === "allow_always" || a.state === "answered";
  out.append(icon(good ? "check" : "alert"), el("span", "", outcomeText(a.ev.kind, a.state, ev.by, ev.interrupt === true)));
  out.hidden = false;
  // The reason or feedback given with a denial stays readable under the outcome,
  // on every page (the server says it; this page's own words until then).
  const said = card.querySelector(".ap-said");
  if (said) said.remove();
  const why = typeof ev.message === "string" ? ev.message : a.sentMessage;
  if (why && why !== SKIP_MESSAGE && a.state === "deny") out.after(el("p", "ap-said", why));
  // What it was about stays one tap away; a plan stays open where it was read.
  const body = card.querySelector("details.ap-body");
  if (body && a.ev.kind !== "question") body.open = false;
  unwatchApproval(a);
}
function setApprovalState(a, state) {
  clearTimeout(a.sendTimer);
  a.state = state;
  a.card.classList.toggle("sending", state === "sending");
  a.card.classList.toggle("pending", state === "pending");
  const note = a.card.querySelector(".ap-sending");
  note.hidden = state !== "sending";
  a.card.querySelectorAll(".ap-act button, .ap-act input, .ap-act textarea").forEach((c) => (c.disabled = state === "sending"));
  if (state === "pending") refreshQuestionButtons(a);
}
function answer(a, reply) {
  if (!isWaiting(a)) return;
  const ok = send(Object.assign({ type: "approval", id: a.ev.id }, reply));
  if (!ok) {
    toast(t("offlineCommand"));
    return;
  }
  a.sentMessage = typeof reply.message === "string" && reply.message !== SKIP_MESSAGE ? reply.message : "";
  setApprovalState(a, "sending");
  // No outcome after a while (a lost connection): let the person try again.
  a.sendTimer = setTimeout(() => a.state === "sending" && setApprovalState(a, "pending"), 10000);
}

// ---------------------------------------------------------------- the card
function apButton(cls, text, onClick) {
  const b = el("button", "ap-btn " + cls, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}
function approvalCard(a) {
  const ev = a.ev;
  const kind = ev.kind === "question" || ev.kind === "plan" ? ev.kind : "tool";
  const card = el("section", "step approval pending kind-" + kind);
  card.dataset.approval = ev.id;
  a.card = card;
  card.setAttribute("role", "group");
  const head = el("div", "ap-head");
  const tool = typeof ev.tool === "string" ? ev.tool : "";
  let title;
  if (kind === "question") title = t((ev.questions || []).length > 1 ? "apAskQuestions" : "apAskQuestion");
  else if (kind === "plan") title = t("apAskPlan");
  else title = APPROVAL_ASK[tool] ? t(APPROVAL_ASK[tool]) : t("apAskTool", tool || "?");
  head.append(icon(kind === "question" ? "question" : kind === "plan" ? "plan" : TOOL_ICONS[tool] || "tool"), el("span", "ap-title", title));
  card.setAttribute("aria-label", title);
  card.appendChild(head);
  if (kind === "question") questionBody(a, card);
  else if (kind === "plan") planBody(a, card);
  else toolBody(a, card);
  const sending = el("p", "ap-sending", t("apSending"));
  sending.hidden = true;
  const viewer = el("p", "ap-viewer", t("apViewer"));
  const out = el("p", "ap-outcome");
  out.setAttribute("role", "status");
  out.hidden = true;
  card.append(sending, viewer, out);
  if (isViewer()) card.querySelectorAll("button, input, textarea").forEach((c) => (c.disabled = true));
  return card;
}

// A tool: what it will do in words, then Allow / Always / Deny and a reason.
function toolBody(a, card) {
  const ev = a.ev;
  const input = ev.input && typeof ev.input === "object" ? ev.input : {};
  const tool = ev.tool || "";
  const str = (v) => (typeof v === "string" ? v : "");
  // One line that says what (the command's purpose, the file, the URL), then the
  // whole of it: the command, the diff, the address.
  const details = el("details", "ap-body");
  details.open = true;
  const body = el("div", "ap-what");
  let line = ev.detail || "";
  if (tool === "Bash" && str(input.command)) {
    line = str(input.description) || line || input.command;
    if (str(input.description)) details.classList.add("prose");
    body.appendChild(el("pre", "cmd", "$ " + input.command));
  } else if ((tool === "Write" || tool === "Edit" || tool === "MultiEdit") && str(input.file_path)) {
    line = line || input.file_path;
    if (input.file_path !== line) body.appendChild(el("div", "file", input.file_path));
    if (tool === "Write") body.appendChild(addedView(str(input.content)));
    else if (tool === "Edit") body.appendChild(diffView(str(input.old_string), str(input.new_string)));
    else (Array.isArray(input.edits) ? input.edits : []).forEach((e) => body.appendChild(diffView(str(e && e.old_string), str(e && e.new_string))));
  } else if (str(input.url)) {
    line = input.url;
    if (str(input.prompt)) body.appendChild(el("div", "ap-desc", input.prompt));
  } else if (str(input.file_path)) {
    line = line || input.file_path;
    if (input.file_path !== line) body.appendChild(el("div", "file", input.file_path));
  } else if (Object.keys(input).length) {
    body.appendChild(el("pre", "", JSON.stringify(input, null, 2)));
  }
  const summary = el("summary", "ap-detail", line || tool);
  details.appendChild(summary);
  if (body.childElementCount) details.appendChild(body);
  else summary.classList.add("bare");
  card.appendChild(details);

  const act = el("div", "ap-act");
  const reason = el("input", "ap-reason");
  reason.type = "text";
  reason.maxLength = 2000;
  reason.placeholder = t("apReason");
  reason.setAttribute("aria-label", t("apReason"));
  reason.enterKeyHint = "send";
  const always = alwaysChoice(a);
  const row = el("div", "ap-row three");
  row.append(
    apButton("primary", t("apAllow"), () => answer(a, { decision: "allow" })),
    apButton("", t("apAlways"), () => {
      always.hidden = !always.hidden;
      if (!always.hidden) always.querySelector("button").focus();
    }),
    apButton("danger", t("apDeny"), () => answer(a, reason.value.trim() ? { decision: "deny", message: reason.value.trim() } : { decision: "deny" })),
  );
  // Deny and end the turn: Claude stops instead of trying another way.
  const stop = apButton("danger link", t("apDenyStop"), () => {
    const why = reason.value.trim();
    answer(a, why ? { decision: "deny", message: why, interrupt: true } : { decision: "deny", interrupt: true });
  });
  act.append(row, always, reason, stop);
  card.appendChild(act);
}
// What "Always" adds, in words, and where it is kept.
function suggestionText(list) {
  const all = Array.isArray(list) ? list.filter((s) => s && typeof s === "object") : [];
  const rules = all.filter((s) => s.type === "addRules" && Array.isArray(s.rules));
  if (rules.length) {
    return rules
      .flatMap((s) => s.rules)
      .map((r) => String((r && r.toolName) || "") + (r && r.ruleContent ? "(" + r.ruleContent + ")" : ""))
      .join(", ");
  }
  const s = all[0];
  if (!s) return "";
  if (s.type === "setMode") return t("apAlwaysMode", t("modeName_" + s.mode));
  if (s.type === "addDirectories") return t("apAlwaysDirs", (s.directories || []).join(", "));
  return "";
}
function alwaysChoice(a) {
  const box = el("div", "ap-always");
  box.hidden = true;
  const what = suggestionText(a.ev.suggestions);
  if (what) box.appendChild(el("p", "ap-always-what", t("apAlwaysWhat", what)));
  const row = el("div", "ap-row two");
  row.append(
    apButton("primary", t("apAlwaysSession"), () => answer(a, { decision: "allow_always", destination: "session" })),
    apButton("primary", t("apAlwaysLocal"), () => answer(a, { decision: "allow_always", destination: "local" })),
  );
  box.append(row, el("p", "ap-hint", t("apAlwaysLocalNote")));
  return box;
}
function addedView(content) {
  const pre = el("pre", "diff");
  const lines = content.split("\n");
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  lines.forEach((line) => pre.appendChild(el("span", "add", "+ " + line)));
  return pre;
}

// Questions: option buttons (one, or any for multiSelect), or typed text.
function questionBody(a, card) {
  const qs = Array.isArray(a.ev.questions) ? a.ev.questions.filter((q) => q && typeof q.question === "string") : [];
  a.answers = qs.map(() => ({ picked: new Set(), text: "" }));
  const box = el("div", "ap-questions");
  qs.forEach((q, qi) => {
    const multi = !!q.multiSelect;
    const fs = el("fieldset", "ap-q");
    const legend = el("legend");
    if (q.header) legend.appendChild(el("span", "ap-qhead", q.header));
    legend.appendChild(el("span", "ap-qtext", q.question));
    fs.appendChild(legend);
    fs.appendChild(el("div", "ap-hint", t(multi ? "apChooseAny" : "apChooseOne")));
    const opts = el("div", "ap-options" + (multi ? " multi" : ""));
    (Array.isArray(q.options) ? q.options : []).forEach((o) => {
      const label = o && typeof o.label === "string" ? o.label : "";
      if (!label) return;
      const b = el("button", "ap-option");
      b.type = "button";
      b.setAttribute("aria-pressed", "false");
      b.dataset.label = label;
      b.append(el("span", "ap-mark"), el("span", "ap-olabel", label));
      if (o.description) b.appendChild(el("span", "ap-odesc", o.description));
      b.addEventListener("click", () => {
        const st = a.answers[qi];
        if (multi) {
          if (st.picked.has(label)) st.picked.delete(label);
          else st.picked.add(label);
        } else {
          st.picked = new Set(st.picked.has(label) ? [] : [label]);
          st.text = "";
          text.value = "";
        }
        opts.querySelectorAll(".ap-option").forEach((x) => x.setAttribute("aria-pressed", String(st.picked.has(x.dataset.label))));
        refreshQuestionButtons(a);
      });
      opts.appendChild(b);
    });
    fs.appendChild(opts);
    const text = el("input", "ap-other");
    text.type = "text";
    text.maxLength = 2000;
    text.placeholder = t("apOther");
    text.setAttribute("aria-label", q.question + " — " + t("apOther"));
    text.addEventListener("input", () => {
      const st = a.answers[qi];
      st.text = text.value;
      if (!multi && text.value.trim() && st.picked.size) {
        st.picked.clear();
        opts.querySelectorAll(".ap-option").forEach((x) => x.setAttribute("aria-pressed", "false"));
      }
      refreshQuestionButtons(a);
    });
    fs.appendChild(text);
    box.appendChild(fs);
  });
  a.questions = qs;
  card.appendChild(box);
  const act = el("div", "ap-act");
  const row = el("div", "ap-row two");
  const submit = apButton("primary ap-submit", t(qs.length > 1 ? "apSendAnswers" : "apSendAnswer"), () => {
    const answers = {};
    qs.forEach((q, qi) => {
      const st = a.answers[qi];
      const typed = st.text.trim();
      const picked = (Array.isArray(q.options) ? q.options : []).map((o) => o && o.label).filter((l) => st.picked.has(l));
      if (q.multiSelect) {
        if (picked.length) answers[q.question] = typed ? picked.concat([typed]) : picked;
        else if (typed) answers[q.question] = typed;
      } else if (typed) {
        answers[q.question] = typed;
      } else if (picked.length) {
        answers[q.question] = picked[0];
      }
    });
    answer(a, { decision: "allow", answers });
  });
  row.append(submit, apButton("", t("apSkip"), () => answer(a, { decision: "deny", message: SKIP_MESSAGE })));
  act.appendChild(row);
  card.appendChild(act);
  refreshQuestionButtons(a);
}
// "Send" only when every question has an answer.
function refreshQuestionButtons(a) {
  const submit = a.card && a.card.querySelector(".ap-submit");
  if (!submit || !a.answers) return;
  const complete = a.answers.every((st) => st.picked.size > 0 || st.text.trim());
  submit.disabled = !complete || a.state !== "pending";
}

// A plan: the server's rendered markdown, Approve (and which mode next) or Keep
// planning with feedback.
function planBody(a, card) {
  const ev = a.ev;
  const details = el("details", "ap-body");
  details.open = true;
  // The server's one line for a plan is English and says what the title says.
  details.appendChild(el("summary", "ap-detail", t("apPlanSummary")));
  const plan = el("div", "ap-plan md");
  if (typeof ev.html === "string" && ev.html) {
    plan.innerHTML = ev.html; // server-rendered and sanitised (src/markdown.rs)
    enhanceMarkdown(plan);
  } else {
    plan.classList.add("plain");
    plan.textContent = typeof ev.plan === "string" ? ev.plan : (ev.input && ev.input.plan) || "";
  }
  details.appendChild(plan);
  card.appendChild(details);

  const act = el("div", "ap-act");
  const next = el("div", "ap-next");
  next.setAttribute("role", "radiogroup");
  next.setAttribute("aria-label", t("apPlanNext"));
  next.appendChild(el("span", "ap-hint", t("apPlanNext")));
  let mode = "acceptEdits";
  const seg = el("div", "seg");
  ["acceptEdits", "default"].forEach((m) => {
    const b = el("button", "seg-btn", t("modeName_" + m));
    b.type = "button";
    b.dataset.mode = m;
    b.setAttribute("role", "radio");
    b.setAttribute("aria-checked", String(m === mode));
    b.addEventListener("click", () => {
      mode = m;
      seg.querySelectorAll(".seg-btn").forEach((x) => x.setAttribute("aria-checked", String(x.dataset.mode === mode)));
    });
    seg.appendChild(b);
  });
  next.appendChild(seg);
  const feedback = el("textarea", "ap-feedback");
  feedback.rows = 2;
  feedback.maxLength = 4000;
  feedback.placeholder = t("apFeedback");
  feedback.setAttribute("aria-label", t("apFeedback"));
  const row = el("div", "ap-row two");
  row.append(
    apButton("primary", t("apApprove"), () => answer(a, { decision: "allow", mode })),
    apButton("", t("apKeepPlanning"), () => {
      const text = feedback.value.trim();
      if (!text) {
        feedback.focus();
        feedback.classList.add("want");
        return;
      }
      answer(a, { decision: "deny", message: text });
    }),
  );
  feedback.addEventListener("input", () => feedback.classList.remove("want"));
  act.append(next, row, feedback);
  card.appendChild(act);
}

// ---------------------------------------------------------------- while something waits
function waitingList() {
  return Array.from(approvals.values()).filter(isWaiting);
}
// The tab title, and a strip that jumps to a waiting card out of view.
const waitingStrip = el("button", "waiting-strip");
waitingStrip.type = "button";
waitingStrip.id = "waiting";
waitingStrip.hidden = true;
waitingStrip.append(icon("wait"), el("span", "waiting-text"), el("span", "waiting-go"));
$("jump").before(waitingStrip);
waitingStrip.addEventListener("click", () => {
  const first = waitingList()[0];
  if (!first) return;
  follow = false;
  first.card.scrollIntoView({ block: "center", behavior: "smooth" });
});
const inView = new Set();
const approvalObserver = "IntersectionObserver" in window
  ? new IntersectionObserver((entries) => {
      entries.forEach((e) => {
        const id = e.target.dataset.approval;
        if (e.isIntersecting) inView.add(id);
        else inView.delete(id);
      });
      updateWaiting();
    }, { root: scroller, threshold: 0.15 })
  : null;
function watchApproval(a) {
  if (approvalObserver) approvalObserver.observe(a.card);
}
function unwatchApproval(a) {
  if (approvalObserver) approvalObserver.unobserve(a.card);
  inView.delete(a.ev.id);
}
function updateWaiting() {
  const waiting = waitingList();
  document.title = waiting.length ? t("apTabTitle") : baseTitle;
  document.body.classList.toggle("waiting", waiting.length > 0);
  const seen = waiting.some((a) => inView.has(a.ev.id));
  waitingStrip.hidden = !waiting.length || seen;
  if (!waitingStrip.hidden) {
    waitingStrip.querySelector(".waiting-text").textContent = waiting.length > 1 ? t("apWaitingN", waiting.length) : t("apWaiting");
    waitingStrip.querySelector(".waiting-go").textContent = t("apShow");
  }
}
// A sound and a vibration once per request (the sound setting covers both; the
// browser refuses both before the person has touched the page), and a
// notification when the page is in the background.
function approvalAlert(ev) {
  if (opts.sound) {
    if (audio) {
      if (audio.state === "suspended") audio.resume();
      const now = audio.currentTime;
      [880, 660, 880].forEach((freq, i) => {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.frequency.value = freq;
        o.type = "triangle";
        g.gain.setValueAtTime(0.0001, now + i * 0.18);
        g.gain.exponentialRampToValueAtTime(0.22, now + i * 0.18 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.16);
        o.connect(g).connect(audio.destination);
        o.start(now + i * 0.18);
        o.stop(now + i * 0.18 + 0.18);
      });
    }
    const touched = !navigator.userActivation || navigator.userActivation.hasBeenActive;
    if (navigator.vibrate && touched) navigator.vibrate([200, 100, 200, 100, 200]);
  }
  speakApproval(ev);
  if (opts.notify && !pushOn() && document.hidden && "Notification" in window && Notification.permission === "granted") {
    const body = String(ev.detail || ev.tool || "").slice(0, 140);
    const options = { body, icon: "/static/icon-192.png", tag: "homeclaude-approval-" + ev.id };
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.ready.then((reg) => reg.showNotification(t("apWaiting"), options)).catch(() => {});
    } else {
      try {
        new Notification(t("apWaiting"), options);
      } catch (_) {
        /* Android needs the service worker path above */
      }
    }
  }
}

// ---------------------------------------------------------------- permission mode
// The session's mode: shown in the header (tap: the settings sheet) and chosen in
// the sheet. bypassPermissions is a server flag, never a button.
const MODES = ["default", "acceptEdits", "plan"];
let permissionMode = null;
const modeChip = el("button", "mode-chip");
modeChip.type = "button";
modeChip.id = "mode-chip";
modeChip.hidden = true;
document.querySelector("#top h1").after(modeChip);
modeChip.addEventListener("click", () => {
  if (isViewer()) return;
  $("menu-btn").click();
  const on = modeRow.querySelector('[aria-checked="true"]') || modeRow.querySelector(".seg-btn");
  if (on) on.focus();
});
const modeRow = el("div", "mode-row");
modeRow.id = "mode-row";
const modeLabel = el("span", "mode-label");
modeLabel.id = "mode-label";
const modeSeg = el("div", "seg");
modeSeg.setAttribute("role", "radiogroup");
modeSeg.setAttribute("aria-labelledby", "mode-label");
MODES.forEach((m) => {
  const b = el("button", "seg-btn");
  b.type = "button";
  b.dataset.mode = m;
  b.setAttribute("role", "radio");
  b.setAttribute("aria-checked", "false");
  b.addEventListener("click", () => {
    if (m === permissionMode) return;
    command("permission_mode", { mode: m });
  });
  modeSeg.appendChild(b);
});
const modeNote = el("small", "mode-note");
modeRow.append(modeLabel, modeSeg, modeNote);
document.querySelector("#menu .sheet-head").after(modeRow);
function onPermissionMode(ev) {
  if (typeof ev.mode !== "string") return;
  permissionMode = ev.mode;
  renderMode();
}
function renderMode() {
  // Only the owner changes the session's mode (people.js sets the role).
  const viewer = isViewer() || document.documentElement.dataset.role === "collaborator";
  modeLabel.textContent = t("modeTitle");
  modeSeg.querySelectorAll(".seg-btn").forEach((b) => {
    b.textContent = t("modeName_" + b.dataset.mode);
    b.setAttribute("aria-checked", String(b.dataset.mode === permissionMode));
    b.disabled = viewer;
  });
  const known = MODES.includes(permissionMode);
  modeNote.textContent = known ? t("modeNote_" + permissionMode) : permissionMode ? t("modeOther", permissionMode) : "";
  modeChip.hidden = !permissionMode;
  modeChip.textContent = permissionMode ? (known ? t("modeChip_" + permissionMode) : permissionMode) : "";
  modeChip.className = "mode-chip m-" + String(permissionMode || "").replace(/[^A-Za-z]/g, "");
  modeChip.title = t("modeTitle") + ": " + (known ? t("modeName_" + permissionMode) : permissionMode || "");
  modeChip.disabled = viewer;
}
function isViewer() {
  return document.body.classList.contains("viewer") || document.documentElement.dataset.role === "viewer";
}
// The language can change at any time: re-word what is built here (after
// settings.js has switched it: its listener comes first).
$("opt-lang").addEventListener("change", () => {
  renderMode();
  updateWaiting();
});
renderMode();
