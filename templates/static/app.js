// homeclaude minimal page: connect, show status, send prompts, list what arrives.
// Text is inserted with textContent only, never as HTML.
"use strict";
(function () {
  const log = document.getElementById("log");
  const dot = document.getElementById("dot");
  const status = document.getElementById("status");
  const form = document.getElementById("send");
  const prompt = document.getElementById("prompt");
  let ws = null;
  let lastSeq = 0;
  let retry = 500;

  function line(kind, who, text) {
    const div = document.createElement("div");
    div.className = "line " + kind;
    const b = document.createElement("b");
    b.textContent = who;
    div.appendChild(b);
    div.appendChild(document.createTextNode(" " + text));
    log.appendChild(div);
    div.scrollIntoView({ block: "end" });
  }

  function show(ev) {
    if (typeof ev.seq === "number") {
      if (ev.seq <= lastSeq) return;
      lastSeq = ev.seq;
    }
    switch (ev.type) {
      case "message": line("msg", ev.username + ":", ev.message); break;
      case "system": line("sys", "system:", ev.message); break;
      case "error": line("err", "error:", ev.message); break;
      case "queue_status": status.textContent = "queue: " + ev.count; break;
      case "progress": line("prog", ev.progress_type, ev.text || ev.detail || ev.message || ""); break;
      default: line("other", ev.type, "");
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws?last_seq=" + lastSeq);
    ws.onopen = function () { dot.className = "dot on"; status.textContent = "connected"; retry = 500; };
    ws.onmessage = function (m) { try { show(JSON.parse(m.data)); } catch (e) { line("err", "error:", String(e)); } };
    ws.onclose = function () {
      dot.className = "dot off"; status.textContent = "reconnecting…";
      setTimeout(connect, retry + Math.random() * retry);
      retry = Math.min(retry * 2, 15000);
    };
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    const text = prompt.value.trim();
    if (!text || !ws || ws.readyState !== 1) return;
    ws.send(JSON.stringify({ type: "message", username: "User", message: text }));
    prompt.value = "";
  });
  connect();
})();
