// The Changes sheet (owner only): the project's git status from GET /api/git/status,
// each file's diff from GET /api/git/diff rendered like an Edit card, recent commits
// from GET /api/git/log. Read-only: nothing here changes the repository.

function gitFetch(path) {
  return fetch(path, { cache: "no-store", credentials: "same-origin" }).then((r) =>
    r.json().then((body) => (r.ok || body.repo === false ? body : Promise.reject(body)), () => Promise.reject(r.status)));
}
// A unified diff as the Edit cards show one: added and removed lines coloured,
// hunk headers muted, file headers dropped (the row says which file).
function unifiedDiffView(text) {
  const pre = el("pre", "diff");
  text.split("\n").forEach((line) => {
    if (/^(diff --git|index |--- |\+\+\+ )/.test(line)) return;
    let kind = "ctx";
    if (line.startsWith("@@")) kind = "hunk";
    else if (line.startsWith("+")) kind = "add";
    else if (line.startsWith("-")) kind = "del";
    else if (/^(rename|similarity|new file|deleted file|old mode|new mode|Binary)/.test(line)) kind = "hunk";
    pre.appendChild(el("span", kind, line));
  });
  return pre;
}
function changeRow(item, staged) {
  const path = typeof item === "string" ? item : item.path;
  const status = typeof item === "string" ? "?" : item.status;
  const d = el("details", "step tool change");
  const s = el("summary");
  s.appendChild(icon(status === "?" ? "write" : "edit"));
  s.appendChild(el("span", "tname change-status st-" + status.replace(/[^A-Z?]/g, ""), status));
  const label = item.from ? item.from + " → " + path : path;
  const dt = el("span", "tdetail", label);
  dt.title = label;
  s.appendChild(dt);
  d.appendChild(s);
  const body = el("div", "tbody");
  d.appendChild(body);
  let loaded = false;
  d.addEventListener("toggle", () => {
    if (!d.open || loaded) return;
    loaded = true;
    if (status === "?") {
      body.appendChild(el("div", "cut", t("changesNoDiff")));
      return;
    }
    body.appendChild(el("div", "cut", t("loading")));
    const q = "?path=" + encodeURIComponent(path) + (staged ? "&staged=1" : "");
    gitFetch("/api/git/diff" + q)
      .then((v) => {
        body.textContent = "";
        if (!v.diff) body.appendChild(el("div", "cut", t("changesNoDiff")));
        else body.appendChild(unifiedDiffView(v.diff));
        if (v.truncated) body.appendChild(el("div", "cut", t("changesTruncated")));
      })
      .catch(() => {
        body.textContent = "";
        body.appendChild(el("div", "cut", t("changesUnavailable")));
        loaded = false;
      });
  });
  return d;
}
function changesSection(box, title, items, staged) {
  if (!items || !items.length) return;
  box.appendChild(el("h3", "changes-title", title + " · " + items.length));
  const list = el("div", "steps changes-list");
  items.slice(0, 500).forEach((item) => list.appendChild(changeRow(item, staged)));
  box.appendChild(list);
}
function showChanges() {
  const sheet = $("changes");
  const box = $("changes-body");
  const head = $("changes-branch");
  box.textContent = "";
  head.textContent = "";
  box.appendChild(el("p", "note", t("loading")));
  if (!sheet.open) sheet.showModal();
  gitFetch("/api/git/status")
    .then((v) => {
      box.textContent = "";
      if (v.repo === false) {
        box.appendChild(el("p", "note", t("changesNotRepo")));
        return;
      }
      const bits = [v.branch || "?"];
      if (v.upstream) bits.push(v.upstream);
      if (v.ahead) bits.push(t("changesAhead", v.ahead));
      if (v.behind) bits.push(t("changesBehind", v.behind));
      head.textContent = bits.join(" · ");
      changesSection(box, t("changesConflicted"), v.conflicted, false);
      changesSection(box, t("changesStaged"), v.staged, true);
      changesSection(box, t("changesUnstaged"), v.unstaged, false);
      changesSection(box, t("changesUntracked"), v.untracked, false);
      if (!box.childElementCount) box.appendChild(el("p", "note", t("changesNone")));
      return gitFetch("/api/git/log?n=10").then((l) => {
        if (!l.commits || !l.commits.length) return;
        box.appendChild(el("h3", "changes-title", t("changesLog")));
        const ul = el("ul", "commit-list");
        l.commits.forEach((c) => {
          const li = el("li", "commit");
          li.append(el("code", "", c.short || ""), el("span", "commit-subject", c.subject || ""));
          li.title = (c.author || "") + " · " + (c.date || "");
          ul.appendChild(li);
        });
        box.appendChild(ul);
      });
    })
    .catch(() => {
      box.textContent = "";
      box.appendChild(el("p", "note", t("changesUnavailable")));
    });
}
$("act-changes").addEventListener("click", () => {
  $("menu").close();
  showChanges();
});
$("changes-refresh").addEventListener("click", showChanges);
$("changes-close").addEventListener("click", () => $("changes").close());
$("changes").addEventListener("click", (e) => {
  if (e.target === $("changes")) $("changes").close();
});
