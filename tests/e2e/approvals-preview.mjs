// Layout preview of the approval cards before the server sends them: the real
// page from the real binary, its WebSocket answered by playwright (routeWebSocket).
import path from "node:path";
import { launchBrowser, startServer, until } from "./lib.mjs";

const out = process.argv[2] || "/tmp/cards-preview";
const base = [
  { seq: 1, type: "message", username: "User", id: 1, message: "Set up the project and run the tests" },
  { seq: 2, type: "progress", run: 1, progress_type: "start", prompt_id: 1 },
  { seq: 3, type: "progress", run: 1, progress_type: "init", model: "claude-sonnet-4-5-20250929" },
];
const cards = {
  bash: [
    { seq: 4, type: "progress", run: 1, progress_type: "tool_start", tool: "Bash", detail: "git init -q", tool_use_id: "t1" },
    { seq: 5, type: "approval", id: "a1", run: 1, kind: "tool", tool: "Bash", detail: "git init -q", input: { command: "git init -q", description: "Create a git repository" },
      suggestions: [{ type: "addRules", rules: [{ toolName: "Bash", ruleContent: "git init *" }], behavior: "allow", destination: "localSettings" }] },
  ],
  write: [
    { seq: 4, type: "progress", run: 1, progress_type: "tool_start", tool: "Edit", detail: "src/main.rs", tool_use_id: "t1" },
    { seq: 5, type: "approval", id: "a2", run: 1, kind: "tool", tool: "Edit", detail: "src/main.rs",
      input: { file_path: "/home/pi/projects/wordcount/src/main.rs", old_string: "fn count(text: &str) -> usize {\n    text.split_whitespace().count()\n}", new_string: "fn count(text: &str, lines: bool) -> usize {\n    if lines {\n        return text.lines().count();\n    }\n    text.split_whitespace().count()\n}" },
      suggestions: [{ type: "setMode", mode: "acceptEdits", destination: "session" }] },
  ],
  question: [
    { seq: 4, type: "approval", id: "a3", run: 1, kind: "question", tool: "AskUserQuestion", detail: "Which database should the new service use?", input: {}, suggestions: [],
      questions: [
        { question: "Which database should the new service use?", header: "Database", multiSelect: false, options: [
          { label: "PostgreSQL", description: "Relational, the team knows it" }, { label: "SQLite", description: "One file, no server" }, { label: "Redis", description: "In-memory key-value store" }] },
        { question: "Which extras do you want enabled?", header: "Extras", multiSelect: true, options: [
          { label: "Metrics", description: "Prometheus endpoint" }, { label: "Tracing", description: "OpenTelemetry spans" }, { label: "Audit log", description: "Append-only log of changes" }] },
      ] },
  ],
  plan: [
    { seq: 4, type: "approval", id: "a4", run: 1, kind: "plan", tool: "ExitPlanMode", detail: "Plan: add a --lines flag", input: {}, suggestions: [],
      plan: "# Add --lines\n\n1. Parse the flag\n2. Count lines\n3. Test",
      html: "<h1>Add a --lines flag</h1><ol><li>Parse <code>--lines</code> in <code>src/main.rs</code></li><li>Make <code>count()</code> count lines when asked</li><li>Add tests for both modes and run <code>cargo test</code></li></ol><p>No other files change.</p>" },
  ],
};
const resolved = process.argv.includes("--resolved");
const browser = await launchBrowser();
const server = await startServer({ args: ["--templates", path.resolve("../../templates")] });
try {
  for (const [name, evs] of Object.entries(cards)) {
    for (const [scheme, locale] of [["light", "en-US"], ["dark", "en-US"], ["light", "ko-KR"]]) {
      const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, colorScheme: scheme, locale });
      const page = await context.newPage();
      const problems = [];
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
      const sent = [];
      await page.routeWebSocket(/\/ws/, (ws) => {
        ws.onMessage((m) => sent.push(m));
        const all = [...base, ...evs];
        if (resolved) all.push({ seq: 9, type: "approval_resolved", id: evs[evs.length - 1].id, decision: name === "plan" ? "allow" : "deny", by: "owner" });
        for (const e of all) ws.send(JSON.stringify(e));
        ws.send(JSON.stringify({ type: "permission_mode", mode: name === "plan" ? "plan" : "default" }));
        ws.send(JSON.stringify({ type: "queue_status", count: 0, items: [], running: true }));
        if (process.argv.includes("--viewer")) ws.send(JSON.stringify({ type: "error", code: "read_only", message: "read only" }));
      });
      await page.goto(server.url + (locale === "ko-KR" ? "/?" : "/"));
      await until(page, () => window.homeclaude && window.homeclaude.connected);
      await page.locator(".approval").waitFor();
      if (process.argv.includes("--sheet")) {
        await page.locator("#mode-chip").click();
        await page.locator("#menu[open]").waitFor();
      }
      if (process.argv.includes("--scroll")) {
        await page.evaluate(() => { document.getElementById("scroller").scrollTop = 0; });
      }
      await page.waitForTimeout(300);
      const file = path.join(out, `${name}-${scheme}-${locale.slice(0, 2)}${process.argv.slice(3).join("")}.png`);
      await page.screenshot({ path: file });
      console.log(file, await page.title(), problems.join(" | "));
      await context.close();
    }
  }
} finally {
  await browser.close();
  await server.stop();
}
