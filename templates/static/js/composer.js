// The input: Enter and IME rules, slash commands, Stop.

// ---------------------------------------------------------------- composer
const prompt = $("prompt");
function growInput() {
  prompt.style.height = "auto";
  prompt.style.height = Math.min(prompt.scrollHeight + 2, Math.round(window.innerHeight * 0.4)) + "px";
}
prompt.addEventListener("input", growInput);
// Enter sends with a keyboard and a mouse; on a phone keyboard Enter is a new line
// and the button sends. Never while an IME (Korean) is composing.
const touchOnly = () => window.matchMedia("(pointer: coarse)").matches && !window.matchMedia("(any-pointer: fine)").matches;
prompt.addEventListener("keydown", (e) => {
  if (e.key !== "Enter" || e.isComposing || e.keyCode === 229) return;
  if (e.ctrlKey || e.metaKey || (!e.shiftKey && !e.altKey && !touchOnly())) {
    e.preventDefault();
    submit();
  }
});
$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  submit();
});
function submit() {
  const text = prompt.value.trim();
  const withFiles = typeof attachments !== "undefined" && attachments.some((a) => a.state === "ok");
  if (!text && !withFiles) return;
  if (text === "/clear" || text === "/new") {
    if (command("clear")) clearInput();
    return;
  }
  if (text === "/stop") {
    if (command("stop")) clearInput();
    return;
  }
  // `!cmd`: a shell command in the project, not a prompt (terminal.js).
  if (text.startsWith("!")) {
    if (runShell(text.slice(1).trim())) clearInput();
    return;
  }
  clearInput();
  queuePrompt(text, withFiles ? takeAttachments() : []);
}
function clearInput() {
  prompt.value = "";
  growInput();
  follow = opts.autoscroll || follow;
  contentChanged();
}
$("stop").addEventListener("click", () => command("stop"));
