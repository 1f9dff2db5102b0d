// The conversation: following new content, bubbles, Claude's rendered answers.

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
