// The sessions list in the settings sheet.

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
