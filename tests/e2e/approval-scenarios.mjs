// Transcripts for the fake CLI in which Claude asks the person: a Bash command, a
// Write, two questions, a plan (`@ask` prints a `can_use_tool` control request and
// waits for the answer, as the real CLI does). Used by approvals.test.mjs and
// screenshots-approvals.mjs.

const SESSION = "11111111-2222-3333-4444-555555555555";
const line = (v) => JSON.stringify(v);
const INIT = line({ type: "system", subtype: "init", session_id: SESSION, model: "claude-test", cwd: "/tmp", tools: [], permissionMode: "default" });
const RESULT = line({ type: "result", subtype: "success", is_error: false, result: "All done.", session_id: SESSION, total_cost_usd: 0.01, duration_ms: 5, num_turns: 1, usage: { input_tokens: 1, output_tokens: 2 } });
const say = (id, text) => line({ type: "assistant", message: { id: "msg_say_" + id, type: "message", role: "assistant", model: "claude-test", content: [{ type: "text", text }], usage: { input_tokens: 1, output_tokens: 1 } }, parent_tool_use_id: null, session_id: SESSION });
const answerText = (text) => line({ type: "assistant", message: { id: "msg_end", type: "message", role: "assistant", model: "claude-test", content: [{ type: "text", text }], usage: { input_tokens: 1, output_tokens: 1 } }, parent_tool_use_id: null, session_id: SESSION });
function toolUse(id, name, input) {
  return line({ type: "assistant", message: { id: "msg_" + id, type: "message", role: "assistant", model: "claude-test", content: [{ type: "tool_use", id: "toolu_" + id, name, input }], usage: { input_tokens: 1, output_tokens: 1 } }, parent_tool_use_id: null, session_id: SESSION });
}
function toolResult(id) {
  return line({ type: "user", message: { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_" + id, content: "ok", is_error: false }] }, parent_tool_use_id: null, session_id: SESSION });
}
function ask(id, tool, input, extra = {}) {
  return "@ask " + line({ type: "control_request", request_id: id, request: { subtype: "can_use_tool", tool_name: tool, display_name: tool, input, tool_use_id: "toolu_" + id, ...extra } });
}
function bash(id, command, description = "Run it") {
  const input = { command, description };
  return [toolUse(id, "Bash", input), ask(id, "Bash", input, {
    description,
    permission_suggestions: [
      { type: "addRules", rules: [{ toolName: "Bash", ruleContent: command }], behavior: "allow", destination: "localSettings" },
      { type: "setMode", mode: "acceptEdits", destination: "session" },
    ],
  }), toolResult(id)];
}
export const QUESTIONS = [
  { question: "Which database should the app use?", header: "Database", multiSelect: false, options: [{ label: "SQLite", description: "One file" }, { label: "PostgreSQL", description: "A server" }] },
  { question: "Which features do you want?", header: "Features", multiSelect: true, options: [{ label: "Metrics", description: "Counters" }, { label: "Tracing", description: "Spans" }, { label: "Audit log", description: "Who did what" }] },
];
const PLAN = "# Add a --lines flag\n\n1. Parse `--lines` in `src/main.rs`\n2. Count lines when asked\n3. Add tests and run `cargo test`\n";
const WRITE = { file_path: "/home/pi/projects/wordcount/NOTES.md", content: "# Notes\n\nCount lines with --lines.\nCount words by default.\n" };
export const scenarios = {
  bash: [...bash("req-1", "touch approved.txt")],
  deny: [...bash("req-c", "rm -rf build")],
  denystop: [...bash("req-s", "git push --force")],
  always: [...bash("req-a", "touch always.txt"), ...bash("req-b", "touch always.txt")],
  write: [toolUse("req-w", "Write", WRITE), ask("req-w", "Write", WRITE, { description: "NOTES.md", permission_suggestions: [{ type: "setMode", mode: "acceptEdits", destination: "session" }] }), toolResult("req-w")],
  question: [toolUse("req-q", "AskUserQuestion", { questions: QUESTIONS }), ask("req-q", "AskUserQuestion", { questions: QUESTIONS }, { requires_user_interaction: true }), toolResult("req-q")],
  plan: [toolUse("req-p", "ExitPlanMode", { plan: PLAN }), ask("req-p", "ExitPlanMode", { plan: PLAN, planFilePath: "/tmp/plan.md" }, { requires_user_interaction: true }), toolResult("req-p")],
  plan2: [toolUse("req-p2", "ExitPlanMode", { plan: PLAN }), ask("req-p2", "ExitPlanMode", { plan: PLAN, planFilePath: "/tmp/plan.md" }, { requires_user_interaction: true }), toolResult("req-p2")],
};

/** A whole transcript: init, the scenario's lines, the answer and the result. */
export function transcript(lines) {
  return [INIT, ...lines, answerText("All done."), RESULT].join("\n") + "\n";
}

/** For the screenshots: what a person would see, with Claude's words first. */
export const shots = {
  bash: {
    prompt: "Set the project up as a git repository and run the tests.",
    lines: [say("b", "The project is not a git repository yet; I'll create one first."), ...bash("s-bash", "git init -q && git add -A && git commit -qm 'Initial commit'", "Create the repository and commit what is there")],
  },
  write: {
    prompt: "Write down how to count lines in NOTES.md.",
    lines: [say("w", "I'll add a short note."), ...scenarios.write],
  },
  question: {
    prompt: "Start a small service that keeps the word counts.",
    lines: [say("q", "Two things to settle before I start."), ...scenarios.question],
  },
  plan: {
    prompt: "Plan the --lines flag before changing anything.",
    lines: [say("p", "I have read src/main.rs and the tests; here is the plan."), ...scenarios.plan],
  },
};
