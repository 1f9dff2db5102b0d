// Files: attachments in the composer (paperclip, paste, upload progress, thumbnails),
// the Files sheet (browse, view, download, upload here, delete) and `file_update`.
// Bytes go over HTTP (/api/files, /api/files/raw); news comes on the WebSocket.

// ---------------------------------------------------------------- uploads
const UPLOADS = document.documentElement.dataset.uploads || "uploads";
const IMAGE_EXT = /\.(png|jpe?g|gif|webp)$/i;
const TEXT_MAX = 512 * 1024;
// --max-upload: a bigger file is refused here, before a byte is sent (the server
// answers 413 from the head and closes, which a browser may see as a network error).
const MAX_UPLOAD = Number(document.documentElement.dataset.maxUpload) || Infinity;
const attachments = []; // { name, path, file, state: "up"|"ok"|"err", node, bar }
function rawUrl(path, download) {
  return "/api/files/raw?path=" + encodeURIComponent(path) + (download ? "&download=1" : "");
}
function stamp() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + p(d.getMonth() + 1) + p(d.getDate()) + "-" + p(d.getHours()) + p(d.getMinutes()) + p(d.getSeconds());
}
// A name safe on every filesystem, with a prefix that keeps uploads apart.
function uploadName(file) {
  let name = (file.name || "").replace(/[\/\\\0]/g, "_").replace(/^\.+/, "");
  if (!name || name === "image.png") name = "paste." + ((file.type || "").split("/")[1] || "bin");
  return stamp() + "-" + randomId().slice(0, 4) + "-" + name;
}
// PUT with progress (XHR: fetch has no upload progress). Resolves with the entry.
function putFile(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    if (file.size > MAX_UPLOAD) {
      reject(new Error(t("tooLarge", fmtBytes(MAX_UPLOAD))));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", "/api/files/raw?path=" + encodeURIComponent(path));
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 201) resolve(xhr.responseText);
      else reject(new Error(xhr.responseText.trim() || String(xhr.status)));
    });
    xhr.addEventListener("error", () => reject(new Error(t("uploadFailed"))));
    xhr.send(file);
  });
}
function thumb(file, path) {
  const box = el("div", "thumb");
  if (IMAGE_EXT.test(file ? file.name || "x.png" : path) && (!file || /^image\//.test(file.type || ""))) {
    const img = el("img");
    img.alt = "";
    if (file && file.size < 8 * 1024 * 1024) {
      // A data: URL (the CSP allows no blob:), only until the upload is there.
      const reader = new FileReader();
      reader.addEventListener("load", () => (img.src = reader.result));
      reader.readAsDataURL(file);
    } else if (path) {
      img.src = rawUrl(path);
    }
    box.appendChild(img);
  } else {
    box.classList.add("doc");
    box.appendChild(icon("read"));
  }
  return box;
}
function renderTray() {
  const tray = $("attach-tray");
  tray.hidden = attachments.length === 0;
  $("send").disabled = attachments.some((a) => a.state === "up");
}
function attachFiles(list) {
  Array.from(list || []).forEach((file) => {
    const path = UPLOADS + "/" + uploadName(file);
    const node = el("div", "attachment up");
    node.appendChild(thumb(file, path));
    const name = el("span", "att-name", file.name || path.split("/").pop());
    const bar = el("progress", "att-bar");
    bar.max = 1;
    bar.value = 0;
    const remove = el("button", "att-remove");
    remove.type = "button";
    remove.setAttribute("aria-label", t("removeAttachment"));
    remove.appendChild(icon("close"));
    node.append(name, bar, remove);
    $("attach-tray").appendChild(node);
    const entry = { name: file.name, path, state: "up", node, bar };
    attachments.push(entry);
    remove.addEventListener("click", () => {
      const i = attachments.indexOf(entry);
      if (i >= 0) attachments.splice(i, 1);
      node.remove();
      renderTray();
    });
    renderTray();
    putFile(path, file, (f) => (bar.value = f))
      .then(() => {
        entry.state = "ok";
        bar.value = 1;
        node.classList.remove("up");
        node.classList.add("ok");
        renderTray();
      })
      .catch((e) => {
        entry.state = "err";
        node.classList.remove("up");
        node.classList.add("err");
        toast(t("uploadFailed") + ": " + e.message);
        renderTray();
      });
  });
}
// What the next prompt carries; the tray empties when it is sent.
function takeAttachments() {
  const paths = attachments.filter((a) => a.state === "ok").map((a) => a.path);
  attachments.length = 0;
  $("attach-tray").textContent = "";
  renderTray();
  return paths;
}
$("attach").addEventListener("click", () => $("attach-input").click());
$("attach-input").addEventListener("change", (e) => {
  attachFiles(e.target.files);
  e.target.value = "";
});
prompt.addEventListener("paste", (e) => {
  const files = e.clipboardData && e.clipboardData.files;
  if (files && files.length) {
    e.preventDefault();
    attachFiles(files);
  }
});
// The attachments of a prompt in the chat: thumbnails for images, names otherwise.
function attachmentView(paths) {
  const box = el("div", "att-list");
  paths.forEach((p) => {
    const a = el("a", "att-link");
    a.href = rawUrl(p);
    a.target = "_blank";
    a.rel = "noopener";
    if (IMAGE_EXT.test(p)) {
      const img = el("img");
      img.alt = p.split("/").pop();
      img.loading = "lazy";
      img.src = rawUrl(p);
      a.appendChild(img);
    } else {
      a.append(icon("read"), el("span", "", p.split("/").pop()));
    }
    box.appendChild(a);
  });
  return box;
}

// ---------------------------------------------------------------- the Files sheet
const filesSheet = $("files-sheet");
let filesPath = "";
function parentOf(path) {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}
function fmtBytes(n) {
  if (n < 1024) return n + " B";
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
  return (n / 1024 / 1024).toFixed(1) + " MB";
}
function crumbs(path) {
  const nav = $("files-crumbs");
  nav.textContent = "";
  const parts = path ? path.split("/") : [];
  const go = (label, target) => {
    const b = el("button", "crumb", label);
    b.type = "button";
    b.addEventListener("click", () => openDir(target));
    nav.appendChild(b);
  };
  go(t("filesRoot"), "");
  parts.forEach((p, i) => {
    nav.appendChild(el("span", "sep", "/"));
    go(p, parts.slice(0, i + 1).join("/"));
  });
}
function openFiles(path) {
  if (!filesSheet.open) filesSheet.showModal();
  openDir(path || "");
}
function openDir(path) {
  filesPath = path;
  crumbs(path);
  $("files-view").hidden = true;
  const list = $("files-list");
  list.hidden = false;
  list.textContent = "";
  list.appendChild(el("li", "note", t("loading")));
  fetch("/api/files?path=" + encodeURIComponent(path), { cache: "no-store", credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : r.text().then((x) => Promise.reject(new Error(x.trim() || String(r.status))))))
    .then((data) => {
      if (filesPath !== path) return;
      list.textContent = "";
      const entries = Array.isArray(data.entries) ? data.entries : [];
      if (!entries.length) list.appendChild(el("li", "note", t("filesEmpty")));
      entries.forEach((e) => {
        const full = path ? path + "/" + e.name : e.name;
        const li = el("li", "file-row " + e.type);
        li.dataset.path = full;
        const open = el("button", "file-open");
        open.type = "button";
        open.append(icon(e.type === "dir" ? "folder" : IMAGE_EXT.test(e.name) ? "image" : "read"), el("span", "file-name", e.name));
        const meta = el("small", "file-meta", e.type === "dir" ? "" : fmtBytes(e.size || 0));
        open.appendChild(meta);
        open.addEventListener("click", () => (e.type === "dir" ? openDir(full) : viewFile(full, e)));
        li.appendChild(open);
        list.appendChild(li);
      });
      if (data.truncated) list.appendChild(el("li", "note", t("filesTruncated")));
    })
    .catch((err) => {
      list.textContent = "";
      list.appendChild(el("li", "note", t("filesUnavailable") + " " + err.message));
    });
}
function viewFile(path, entry) {
  $("files-list").hidden = true;
  crumbs(path);
  const view = $("files-view");
  view.hidden = false;
  const body = $("files-body");
  body.textContent = "";
  $("files-download").href = rawUrl(path, true);
  $("files-delete").dataset.path = path;
  if (IMAGE_EXT.test(path)) {
    const img = el("img", "file-image");
    img.alt = path;
    img.src = rawUrl(path);
    body.appendChild(img);
    return;
  }
  if ((entry.size || 0) > TEXT_MAX) {
    body.appendChild(el("p", "note", t("fileTooBig", fmtBytes(entry.size))));
    return;
  }
  body.appendChild(el("p", "note", t("loading")));
  fetch(rawUrl(path), { cache: "no-store", credentials: "same-origin" })
    .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(String(r.status)))))
    .then((buf) => {
      body.textContent = "";
      const bytes = new Uint8Array(buf);
      if (bytes.indexOf(0) >= 0) {
        body.appendChild(el("p", "note", t("fileBinary")));
        return;
      }
      const text = new TextDecoder().decode(bytes);
      const pre = el("pre", "file-text");
      text.replace(/\n$/, "").split("\n").forEach((line, i) => {
        const row = el("span", "line");
        row.append(el("span", "ln", i + 1), el("span", "lt", line));
        pre.appendChild(row);
      });
      body.appendChild(pre);
    })
    .catch((err) => {
      body.textContent = "";
      body.appendChild(el("p", "note", t("filesUnavailable") + " " + err.message));
    });
}
$("open-files").addEventListener("click", () => openFiles(filesPath));
$("files-close").addEventListener("click", () => filesSheet.close());
filesSheet.addEventListener("click", (e) => {
  if (e.target === filesSheet) filesSheet.close();
});
$("files-back").addEventListener("click", () => openDir(filesPath));
$("files-delete").addEventListener("click", (e) => {
  const path = e.currentTarget.dataset.path;
  if (!path || !window.confirm(t("deleteConfirm", path))) return;
  fetch(rawUrl(path), { method: "DELETE", credentials: "same-origin" })
    .then((r) => (r.ok ? openDir(parentOf(path)) : r.text().then((x) => toast(x.trim()))))
    .catch(() => toast(t("filesUnavailable")));
});
$("files-upload").addEventListener("click", () => $("files-input").click());
$("files-input").addEventListener("change", (e) => {
  const dir = filesPath;
  const files = Array.from(e.target.files || []);
  e.target.value = "";
  const status = $("files-status");
  files.forEach((file) => {
    const name = (file.name || "file").replace(/[\/\\\0]/g, "_");
    status.hidden = false;
    status.textContent = t("uploading", name, 0);
    putFile(dir ? dir + "/" + name : name, file, (f) => (status.textContent = t("uploading", name, Math.round(f * 100))))
      .then(() => {
        status.hidden = true;
        if (filesPath === dir) openDir(dir);
      })
      .catch((err) => {
        status.hidden = true;
        toast(t("uploadFailed") + ": " + err.message);
      });
  });
});

// ---------------------------------------------------------------- file_update
let filesRefresh = 0;
function onFileUpdate(ev) {
  if (typeof ev.path !== "string") return;
  // "Changed in this run": what changed while a run was going.
  if (lastRun && lastRun.state === "running") noteRunChange(lastRun, ev.path, ev.action);
  if (filesSheet.open && !$("files-list").hidden && parentOf(ev.path) === filesPath) {
    clearTimeout(filesRefresh);
    filesRefresh = setTimeout(() => openDir(filesPath), 150);
  }
}
function noteRunChange(run, path, action) {
  if (!run.changed) {
    run.changed = new Map();
    const box = el("details", "changed");
    box.appendChild(el("summary", "", ""));
    box.appendChild(el("ul", "changed-list"));
    run.card.appendChild(box);
    run.changedBox = box;
  }
  const before = run.changed.get(path);
  if (before === "create" && action === "delete") run.changed.delete(path);
  else run.changed.set(path, before === "create" && action === "update" ? "create" : action);
  const list = run.changedBox.querySelector("ul");
  list.textContent = "";
  run.changed.forEach((act, p) => {
    const li = el("li", "changed-item " + act);
    li.appendChild(el("span", "act", t("change_" + act)));
    const b = el("button", "link-btn", p);
    b.type = "button";
    b.addEventListener("click", () => (act === "delete" ? openFiles(parentOf(p)) : (openFiles(parentOf(p)), viewFile(p, {}))));
    li.appendChild(b);
    list.appendChild(li);
  });
  run.changedBox.hidden = run.changed.size === 0;
  run.changedBox.querySelector("summary").textContent = t("changedInRun", run.changed.size);
}
