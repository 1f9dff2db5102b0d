// Start-up, and read-only state for the tests.

// ---------------------------------------------------------------- start
setViewer(document.documentElement.dataset.role === "viewer" || !!viewingBox);
document.querySelectorAll("[data-icon]").forEach((b) => b.prepend(icon(b.dataset.icon)));
applyLang();
if (!viewingBox) outbox.forEach(renderPending);
contentChanged();
if (viewingBox) startBoxView();
else connect();

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
