// The queue panel.

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
  // A prompt cancelled from the queue will never run: say so where it was sent.
  if (typeof ev.cancelled === "number") {
    const n = log.querySelector('.msg.user[data-prompt-id="' + ev.cancelled + '"]');
    if (n) markCancelled(n);
  }
  renderQueue();
  updateBusy();
}
function markCancelled(node) {
  node.classList.add("cancelled");
  node.classList.remove("delivered");
  const meta = node.querySelector(".meta");
  meta.querySelectorAll(".state, .tag").forEach((s) => s.remove());
  meta.appendChild(el("span", "state cancelled", t("cancelled")));
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
