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
// Follows new content until the user scrolls up. Only the user stops it: a scroll
// counts as theirs when it moved the view up within a moment of their touching,
// wheeling or pressing a key. The browser scrolls by itself too (content that
// shrinks, scroll anchoring), and the page's own scroll lands a frame later while
// more content may have come: none of those may stop the following (the next
// content scrolls to the bottom again).
let follow = opts.autoscroll;
let scrollQueued = false;
let lastTop = 0;
let userAt = 0;
const USER_MS = 1000;
function nearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
}
function toBottom() {
  scroller.scrollTop = scroller.scrollHeight;
  lastTop = scroller.scrollTop;
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
    if (follow) toBottom();
  });
}
["wheel", "touchstart", "touchmove", "keydown", "pointerdown"].forEach((type) =>
  scroller.addEventListener(type, () => (userAt = Date.now()), { passive: true }));
document.addEventListener("keydown", () => (userAt = Date.now()));
scroller.addEventListener("scroll", () => {
  const top = scroller.scrollTop;
  const bottom = nearBottom();
  const byUser = Date.now() - userAt < USER_MS;
  if (follow && !bottom && byUser && top < lastTop - 1) follow = false; // the user scrolled up
  else if (bottom && opts.autoscroll) follow = true;
  lastTop = top;
  $("jump").hidden = follow || bottom;
}, { passive: true });
$("jump").addEventListener("click", () => {
  follow = opts.autoscroll;
  toBottom();
  $("jump").hidden = true;
});

// ---------------------------------------------------------------- chat bubbles
function displayName(username) {
  // The server stamps each prompt with its sender's name (people.js has ours).
  if (username === "User" || (username && username === people.me)) return t("you");
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
  if (Array.isArray(ev.attachments) && ev.attachments.length) node.querySelector(".bubble").appendChild(attachmentView(ev.attachments));
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
