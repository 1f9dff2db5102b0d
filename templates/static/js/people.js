// Several people, one box: who is here (avatars in the header, a list in the
// sheet), this page's own name and role, and the owner's invites (a link shown
// once, with its QR code drawn here from the server's module matrix).

// ---------------------------------------------------------------- presence
const people = { here: [], me: document.documentElement.dataset.me || "", role: document.documentElement.dataset.role || "owner" };
function initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  const chars = words.length > 1 ? [words[0], words[words.length - 1]].map((w) => Array.from(w)[0]) : Array.from(words[0]).slice(0, 2);
  return chars.join("").toUpperCase();
}
// A stable colour per name (one of six), so a person looks the same everywhere.
function hue(name) {
  let h = 0;
  for (const c of String(name)) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return "hue" + (h % 6);
}
function roleName(role) {
  return t("role_" + role);
}
function avatar(p) {
  const a = el("span", "avatar " + hue(p.name) + (p.role === "owner" ? " owner" : ""), initials(p.name));
  a.title = p.name + " · " + roleName(p.role);
  return a;
}
function renderPeople() {
  const bar = $("people");
  bar.replaceChildren();
  const shown = people.here.slice(0, 3);
  shown.forEach((p) => bar.append(avatar(p)));
  if (people.here.length > shown.length) bar.append(el("span", "avatar more", "+" + (people.here.length - shown.length)));
  bar.hidden = people.here.length === 0;
  bar.setAttribute("aria-label", t("peopleHere", people.here.length));
  const list = $("people-list");
  list.replaceChildren();
  people.here.forEach((p) => {
    const li = el("li", "person");
    const who = el("span", "person-name", p.name);
    if (p.name === people.me) who.append(el("span", "tag", t("you")));
    const devices = p.devices > 1 ? " · " + t("devices", p.devices) : "";
    li.append(avatar(p), who, el("span", "person-role", roleName(p.role) + devices));
    list.append(li);
  });
  $("people-count").textContent = t("peopleHere", people.here.length);
}
function onPresence(ev) {
  people.here = Array.isArray(ev.participants) ? ev.participants : [];
  if (ev.you && typeof ev.you.name === "string") {
    people.me = ev.you.name;
    setRole(ev.you.role);
  }
  renderPeople();
}
function onParticipantJoined(ev) {
  if (!people.here.some((p) => p.name === ev.name && p.role === ev.role)) {
    people.here.push({ name: ev.name, role: ev.role, devices: 1, since: ev.ts || Date.now() });
  }
  renderPeople();
  if (conn.ready) toast(t("joined", ev.name));
}
function onParticipantLeft(ev) {
  people.here = people.here.filter((p) => !(p.name === ev.name && p.role === ev.role));
  renderPeople();
}
// A collaborator sends prompts but does not start sessions or restart the server;
// an owner manages invites. (The hub enforces both; this only hides buttons.)
function setRole(role) {
  people.role = role || "owner";
  document.documentElement.dataset.role = people.role;
  const collab = people.role === "collaborator";
  ["new-session", "act-new", "act-restart", "quick-new", "quick-restart"].forEach((id) => {
    if (collab || people.role === "owner") $(id).hidden = collab;
  });
  $("invite-box").hidden = people.role !== "owner";
  renderMode();
}

// ---------------------------------------------------------------- invites (owner)
function api(path, body) {
  const init = body === undefined ? { cache: "no-store" } : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  return fetch(path, Object.assign({ credentials: "same-origin" }, init)).then((r) =>
    r.text().then((text) => {
      if (!r.ok) throw new Error(text.trim() || String(r.status));
      return JSON.parse(text);
    }),
  );
}
// The QR code as SVG: one path of unit squares (a quiet zone of 4 around).
function qrSvg(qr) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const n = qr.size + 8;
  svg.setAttribute("viewBox", "0 0 " + n + " " + n);
  svg.setAttribute("class", "qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("qrCode"));
  svg.setAttribute("shape-rendering", "crispEdges");
  const bg = document.createElementNS(ns, "rect");
  bg.setAttribute("width", n);
  bg.setAttribute("height", n);
  bg.setAttribute("class", "qr-bg");
  let d = "";
  qr.rows.forEach((row, y) => {
    for (let x = 0; x < row.length; x++) if (row[x] === "1") d += "M" + (x + 4) + " " + (y + 4) + "h1v1h-1z";
  });
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  path.setAttribute("class", "qr-fg");
  svg.append(bg, path);
  return svg;
}
function when(secs) {
  return secs ? new Date(secs * 1000).toLocaleDateString(lang) : t("never");
}
function loadInvites() {
  if (people.role !== "owner") return;
  api("/api/invites")
    .then((body) => {
      const list = $("invite-list");
      list.replaceChildren();
      (body.invites || []).forEach((i) => {
        const li = el("li", "invite");
        const info = el("div", "invite-info");
        info.append(el("strong", null, i.name), el("small", null, roleName(i.role) + " · " + (i.expired ? t("expired") : t("expires", when(i.expires))) + " · " + t("lastSeen", i.last_seen ? when(i.last_seen) : t("never"))));
        const revoke = el("button", "btn danger", t("revoke"));
        revoke.type = "button";
        revoke.addEventListener("click", () => {
          if (!window.confirm(t("revokeConfirm", i.name))) return;
          api("/api/invites/revoke", { name: i.name }).then(() => {
            forgetLink();
            loadInvites();
          }, (e) => toast(e.message));
        });
        li.append(info, revoke);
        list.append(li);
      });
    })
    .catch(() => {});
}
$("invite-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("invite-name").value.trim();
  if (!name) return;
  api("/api/invites", { name, role: $("invite-role").value, expires: $("invite-expires").value })
    .then((made) => {
      $("invite-name").value = "";
      const out = $("invite-made");
      out.replaceChildren();
      out.append(el("p", "note-once", t("linkOnce", made.name)));
      const link = el("input", "invite-link");
      link.readOnly = true;
      link.value = made.link;
      link.addEventListener("focus", () => link.select());
      const copy = el("button", "btn", t("copy"));
      copy.type = "button";
      copy.addEventListener("click", () => {
        if (navigator.clipboard) navigator.clipboard.writeText(made.link).then(() => toast(t("copied")), () => link.select());
        else link.select();
      });
      const row = el("div", "invite-row");
      row.append(link, copy);
      out.append(row);
      if (made.qr) out.append(qrSvg(made.qr));
      out.hidden = false;
      loadInvites();
    })
    .catch((err) => toast(err.message));
});
$("menu-btn").addEventListener("click", loadInvites);
// The link is shown once: gone when the sheet closes.
function forgetLink() {
  $("invite-made").hidden = true;
  $("invite-made").replaceChildren();
}
$("menu").addEventListener("close", forgetLink);
setRole(people.role);
renderPeople();
