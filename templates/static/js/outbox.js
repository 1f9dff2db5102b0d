// Prompts not yet echoed by the server: kept in localStorage across reloads.

// ---------------------------------------------------------------- outbox
// Prompts typed while offline wait here (and in localStorage, across reloads)
// until the server echoes them back with their client_id.
let outbox = store.get("outbox", []);
if (!Array.isArray(outbox)) outbox = [];
function saveOutbox() {
  store.set("outbox", outbox.map((o) => ({ cid: o.cid, text: o.text, at: o.at, username: o.username, attachments: o.attachments })));
}
function renderPending(entry) {
  const node = bubble("user pending", t("you"), new Date(entry.at), document.createTextNode(entry.text));
  node.dataset.cid = entry.cid;
  const state = el("span", "state", pendingState());
  node.querySelector(".meta").appendChild(state);
  pendingBox.appendChild(node);
  entry.node = node;
  contentChanged();
}
// What a prompt not yet delivered is waiting for, in words.
function pendingState() {
  if (!navigator.onLine) return t("pendingNoNetwork");
  return conn.open && conn.ready ? t("sending") : t("pending");
}
function refreshPendingStates() {
  outbox.forEach((o) => {
    const s = o.node && o.node.querySelector(".state");
    if (s) s.textContent = pendingState();
  });
}
function queuePrompt(text, files) {
  const entry = { cid: randomId(), text, at: Date.now(), username: "User" };
  if (files && files.length) entry.attachments = files;
  outbox.push(entry);
  saveOutbox();
  renderPending(entry);
  flushOutbox();
}
function flushOutbox() {
  // Another box's live view is read-only: this page's prompts wait for its own.
  if (!conn.open || !conn.ready || viewingBox) return;
  outbox.forEach((o) => {
    if (o.sentOn === conn.id) return;
    const msg = { type: "message", username: o.username || "User", message: o.text, client_id: o.cid };
    if (Array.isArray(o.attachments) && o.attachments.length) msg.attachments = o.attachments;
    if (send(msg)) o.sentOn = conn.id;
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
