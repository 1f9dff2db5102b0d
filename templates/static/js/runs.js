// A run's card: progress events by kind (the PROGRESS table), tool rows, diffs, to-dos.

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
  const stepNo = el("span", "step-no");
  stepNo.hidden = true;
  const elapsed = el("span", "elapsed", "0.0s");
  head.append(status, label, model, stepNo, elapsed);
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
    id, card, label, model, stepNo, elapsed, bar, barFill, steps, foot, live,
    tools: new Map(), state: "running", started: null, done: "", part: "",
    doneHtml: [], answered: false, lastTodo: null, stepCount: 0,
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
    // Tool calls that never finished: say so, rather than just losing the spinner
    // (a stop may end the run first, then say it was stopped).
    run.tools.forEach((row) => {
      if (!row.classList.contains("active") && !row.classList.contains("cut")) return;
      row.classList.remove("active");
      row.classList.add("cut");
      row.querySelector(".tstate").textContent = t(state === "stopped" ? "toolStopped" : "toolUnfinished");
    });
    if (run.started && !run.durationSet) run.elapsed.textContent = fmtDuration((Date.now() - run.started) / 1000);
  }
  tickRuns();
  updateBusy();
  renderRunStatus();
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
  const body = el("div", "text", text);
  // Whole blocks come with the server's rendering: shown like an answer.
  if (!run.part && run.doneHtml.length) {
    body.className = "text md";
    body.innerHTML = run.doneHtml.join(""); // server-rendered and sanitised (src/markdown.rs)
    enhanceMarkdown(body);
  }
  row.append(icon("note"), body);
  step.appendChild(row);
  run.steps.appendChild(step);
  run.done = "";
  run.part = "";
  run.doneHtml = [];
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
  // A to-do list is worded here (older servers sent "N items" in English).
  const detail = info && info.type === "todo" && Array.isArray(info.todos) ? t("todoItems", info.todos.length) : ev.detail || "";
  const row = addStep(run, "tool active tool-" + tool.toLowerCase().replace(/[^a-z0-9_-]/g, ""), TOOL_ICONS[tool] || "tool", tool, detail);
  run.stepCount++;
  run.stepNo.hidden = false;
  run.stepNo.textContent = t("stepN", run.stepCount);
  renderRunStatus();
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
  // The tool's own path, for "changed in this run" (file_update may come later).
  if (info && (info.type === "edit" || info.type === "write") && info.file) noteRunChange(run, info.file, info.type === "write" ? "create" : "update");
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

// Progress events by `progress_type`: one handler each (a test checks the keys
// against src/protocol.rs Progress, both ways).
const PROGRESS = {
  start(run, ev) {
    run.started = (evTime(ev) || new Date()).getTime();
    run.replayedStart = conn.replaying && typeof ev.ts !== "number";
    setRunState(run, "running");
  },
  init(run, ev) {
    if (ev.model) {
      run.model.textContent = ev.model;
      run.model.hidden = false;
    }
  },
  session(run, ev) {
    if (!ev.resume_command && !ev.session_id) return;
    const cmd = ev.resume_command || "claude --resume " + ev.session_id;
    let r = run.foot.querySelector(".resume");
    if (!r) {
      r = el("div", "resume");
      run.foot.appendChild(r);
    }
    r.textContent = "";
    r.append(el("span", "", t("resume")), el("code", "", cmd), copyButton(() => cmd));
  },
  text_delta(run, ev) {
    run.part += ev.text || "";
    if (run.state === "running") run.live.classList.add("streaming");
    liveRender(run);
  },
  text(run, ev) {
    run.done += (run.done ? "\n\n" : "") + (ev.text || "");
    if (typeof ev.html === "string" && ev.html) run.doneHtml.push(ev.html);
    else run.doneHtml = [];
    run.part = "";
    liveRender(run);
  },
  thinking(run, ev) {
    moveNarration(run);
    const step = addStep(run, "thinking", "thinking", t("thinking"), "");
    step.querySelector(".tbody").appendChild(el("div", "thinking-text", ev.text || ""));
  },
  tool_start: onToolStart,
  tool_end: onToolEnd,
  complete(run, ev) {
    run.durationSet = true;
    run.elapsed.textContent = fmtDuration(ev.duration_sec || 0);
    run.complete = ev;
    renderStats(run);
    setRunState(run, "done");
  },
  error(run, ev) {
    notice(run, "failure", "alert", ev.message || t("failed"));
    endPartial(run);
    setRunState(run, "failed");
  },
  stopped(run, ev) {
    notice(run, "notice", "stop", ev.message || t("stopped"));
    endPartial(run);
    setRunState(run, "stopped");
  },
  retry(run, ev) {
    notice(run, "notice", "alert", ev.message || t("retry"));
  },
};
function onProgress(ev) {
  const handler = Object.prototype.hasOwnProperty.call(PROGRESS, ev.progress_type) ? PROGRESS[ev.progress_type] : null;
  if (!handler) return;
  handler(getRun(ev), ev);
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
  renderRunStatus();
  if (any && !ticker) ticker = setInterval(tickRuns, 500);
  if (!any && ticker) {
    clearInterval(ticker);
    ticker = 0;
  }
}

// The running run at a glance, wherever the view is: elapsed time and step, in a
// strip over the composer (a tap brings the latest into view).
function renderRunStatus() {
  const box = $("run-status");
  const run = lastRun && lastRun.state === "running" && lastRun.started ? lastRun : null;
  box.hidden = !run;
  if (!run) return;
  const parts = [t("working"), fmtDuration((Date.now() - run.started) / 1000)];
  if (run.stepCount) parts.push(t("stepN", run.stepCount));
  $("run-status-text").textContent = parts.join(" · ");
}
$("run-status").addEventListener("click", () => $("jump").click());

// The stats line of a finished run (again when the language or currency changes).
function renderStats(run) {
  const ev = run.complete;
  if (!ev) return;
  let s = run.foot.querySelector(".stats");
  if (!s) {
    s = el("div", "stats");
    run.foot.prepend(s);
  }
  s.textContent = t("stats", fmtDuration(ev.duration_sec || 0), fmtCost(ev.cost_usd), fmtInt(ev.input_tokens), fmtInt(ev.output_tokens)) +
    " · " + t(ev.turns === 1 ? "turnOne" : "turns", fmtInt(ev.turns));
}
