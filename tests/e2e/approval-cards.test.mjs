// The approval cards against the wire contract of issue 23, one frame at a time:
// the real page from the real binary, its WebSocket answered by the test
// (playwright's routeWebSocket), so each test says exactly what the server sends
// and checks exactly what the page sends back. The flows through the real server
// and the fake CLI are in approvals.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withBrowserAndServer, watchPage, until } from "./lib.mjs";

const env = withBrowserAndServer();
const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "en-US" };

const RUN = [
  { seq: 1, type: "message", username: "User", id: 1, message: "Set up the project" },
  { seq: 2, type: "progress", run: 1, progress_type: "start", prompt_id: 1 },
  { seq: 3, type: "progress", run: 1, progress_type: "tool_start", tool: "Bash", detail: "git init -q", tool_use_id: "t1" },
];
const BASH = {
  seq: 4, type: "approval", id: "ap-bash", run: 1, kind: "tool", tool: "Bash", detail: "git init -q",
  input: { command: "git init -q", description: "Create a git repository" },
  suggestions: [{ type: "addRules", rules: [{ toolName: "Bash", ruleContent: "git init *" }], behavior: "allow", destination: "localSettings" }],
};
const QUESTION = {
  seq: 4, type: "approval", id: "ap-q", run: 1, kind: "question", tool: "AskUserQuestion", detail: "Two questions", input: {}, suggestions: [],
  questions: [
    { question: "Which database?", header: "Database", multiSelect: false, options: [{ label: "PostgreSQL", description: "Relational" }, { label: "SQLite", description: "One file" }] },
    { question: "Which extras?", header: "Extras", multiSelect: true, options: [{ label: "Metrics", description: "" }, { label: "Tracing", description: "" }, { label: "Audit log", description: "" }] },
  ],
};
const PLAN = {
  seq: 4, type: "approval", id: "ap-plan", run: 1, kind: "plan", tool: "ExitPlanMode", detail: "Plan: add --lines", input: {}, suggestions: [],
  plan: "# Add --lines\n\n1. Parse it", html: "<h1>Add --lines</h1><ol><li>Parse it</li></ol><script>window.__pwned = 1</script>",
};

/**
 * Opens the page with its WebSocket answered here: every connection gets
 * `events` (the replay), the mode snapshot and the queue snapshot that ends the
 * replay. Returns what the page sent (parsed) and `push` for later frames.
 */
async function mockPage(events, options = phone) {
  const context = await env.browser.newContext(options);
  const page = await context.newPage();
  const problems = watchPage(page);
  const sent = [];
  const sockets = [];
  await page.routeWebSocket(/\/ws/, (ws) => {
    sockets.push(ws);
    ws.onMessage((m) => sent.push(JSON.parse(m)));
    for (const e of events) ws.send(JSON.stringify(e));
    ws.send(JSON.stringify({ type: "permission_mode", mode: "default" }));
    ws.send(JSON.stringify({ type: "queue_status", count: 0, items: [], running: true }));
  });
  await page.goto(env.server.url);
  await until(page, () => window.homeclaude && window.homeclaude.connected);
  const push = (ev) => sockets[sockets.length - 1].send(JSON.stringify(ev));
  const answers = () => sent.filter((m) => m.type === "approval");
  return { context, page, problems, sent, sockets, push, answers };
}
async function waitForAnswer(m, n = 1) {
  const deadline = Date.now() + 10000;
  // Frames from the page reach the route handler asynchronously; poll the array.
  while (m.answers().length < n) {
    if (Date.now() > deadline) throw new Error("the page sent no approval; it sent " + JSON.stringify(m.sent));
    await m.page.waitForTimeout(20);
  }
  return m.answers()[n - 1];
}

test("a tool card says what will run; Allow sends the decision and the outcome replaces the buttons", { timeout: 60000 }, async () => {
  const m = await mockPage([...RUN, BASH]);
  const card = m.page.locator('.run .approval[data-approval="ap-bash"]');
  await card.waitFor();
  assert.equal(await card.locator(".ap-title").textContent(), "Claude wants to run a command");
  assert.equal(await card.locator(".ap-detail").textContent(), "Create a git repository");
  assert.equal(await card.locator("pre.cmd").textContent(), "$ git init -q");
  assert.equal(await m.page.title(), "⏳ Claude is waiting — homeclaude");
  // Big buttons for a thumb.
  for (const name of ["Allow", "Always…", "Deny"]) {
    const box = await card.getByRole("button", { name, exact: true }).boundingBox();
    assert.ok(box.height >= 44 && box.width >= 90, `${name} is ${box.width}x${box.height}`);
  }
  await card.getByRole("button", { name: "Allow", exact: true }).tap();
  assert.deepEqual(await waitForAnswer(m), { type: "approval", id: "ap-bash", decision: "allow" });
  await card.locator(".ap-sending").waitFor();
  m.push({ seq: 5, type: "approval_resolved", id: "ap-bash", decision: "allow", by: "owner" });
  await card.locator(".ap-outcome", { hasText: "Allowed by owner" }).waitFor();
  assert.equal(await card.locator(".ap-act").isVisible(), false);
  await until(m.page, () => document.title === "homeclaude");
  assert.deepEqual(m.problems, []);
  await m.context.close();
});

test("Deny carries the reason; Always asks where to keep the rule and says which", { timeout: 60000 }, async () => {
  const m = await mockPage([...RUN, BASH, { ...BASH, seq: 5, id: "ap-bash-2" }]);
  const [first, second] = [m.page.locator('[data-approval="ap-bash"]'), m.page.locator('[data-approval="ap-bash-2"]')];
  await first.locator(".ap-reason").fill("Not in this folder");
  await first.getByRole("button", { name: "Deny", exact: true }).click();
  assert.deepEqual(await waitForAnswer(m), { type: "approval", id: "ap-bash", decision: "deny", message: "Not in this folder" });

  await second.getByRole("button", { name: "Always…" }).click();
  assert.equal(await second.locator(".ap-always-what").textContent(), "Don't ask again for Bash(git init *):");
  await second.getByRole("button", { name: "This project" }).click();
  assert.deepEqual(await waitForAnswer(m, 2), { type: "approval", id: "ap-bash-2", decision: "allow_always", destination: "local" });
  m.push({ seq: 6, type: "approval_resolved", id: "ap-bash", decision: "deny", by: "owner" });
  m.push({ seq: 7, type: "approval_resolved", id: "ap-bash-2", decision: "allow_always", by: "owner" });
  await first.locator(".ap-outcome", { hasText: "Denied by owner" }).waitFor();
  await second.locator(".ap-outcome", { hasText: "Always allowed by owner" }).waitFor();
  await m.context.close();
});

test("a question card: one choice, many choices, typed text; Send only when each has an answer", { timeout: 60000 }, async () => {
  const m = await mockPage([...RUN, QUESTION]);
  const card = m.page.locator('[data-approval="ap-q"]');
  const send = card.getByRole("button", { name: "Send answers" });
  assert.equal(await send.isDisabled(), true);
  await card.getByRole("button", { name: /^PostgreSQL/ }).click();
  await card.getByRole("button", { name: /^SQLite/ }).click(); // one only: SQLite replaces it
  assert.equal(await card.locator('.ap-option[aria-pressed="true"]').count(), 1);
  assert.equal(await send.isDisabled(), true);
  await card.getByRole("button", { name: "Metrics" }).click();
  await card.getByRole("button", { name: "Audit log" }).click();
  await card.getByRole("button", { name: "Tracing" }).click();
  await card.getByRole("button", { name: "Tracing" }).click(); // toggled off again
  await send.click();
  assert.deepEqual(await waitForAnswer(m), {
    type: "approval", id: "ap-q", decision: "allow",
    answers: { "Which database?": "SQLite", "Which extras?": ["Metrics", "Audit log"] },
  });
  m.push({ seq: 5, type: "approval_resolved", id: "ap-q", decision: "answered", by: "owner" });
  await card.locator(".ap-outcome", { hasText: "Answered by owner" }).waitFor();
  // What was chosen stays readable; the rest goes.
  assert.deepEqual(await card.locator(".ap-option:visible .ap-olabel").allTextContents(), ["SQLite", "Metrics", "Audit log"]);
  await m.context.close();

  // Typed text instead of a choice.
  const m2 = await mockPage([...RUN, QUESTION]);
  const card2 = m2.page.locator('[data-approval="ap-q"]');
  await card2.getByRole("button", { name: /^PostgreSQL/ }).click();
  await card2.getByRole("textbox", { name: /Which database\?/ }).fill("MariaDB");
  assert.equal(await card2.locator('.ap-option[aria-pressed="true"]').count(), 0, "typing replaces a single choice");
  await card2.getByRole("textbox", { name: /Which extras\?/ }).fill("none of these");
  await card2.getByRole("button", { name: "Send answers" }).click();
  assert.deepEqual((await waitForAnswer(m2)).answers, { "Which database?": "MariaDB", "Which extras?": "none of these" });
  await m2.context.close();
});

test("a plan card: the server's HTML, Approve into the chosen mode, Keep planning needs feedback", { timeout: 60000 }, async () => {
  const m = await mockPage([...RUN, PLAN, { ...PLAN, seq: 5, id: "ap-plan-2" }]);
  const [first, second] = [m.page.locator('[data-approval="ap-plan"]'), m.page.locator('[data-approval="ap-plan-2"]')];
  assert.equal(await first.locator(".ap-plan h1").textContent(), "Add --lines");
  assert.equal(await m.page.evaluate(() => window.__pwned), undefined, "a script in html never runs");
  assert.equal(await first.getByRole("radio", { name: /Accept edits/ }).getAttribute("aria-checked"), "true");
  await first.getByRole("button", { name: "Approve plan" }).click();
  assert.deepEqual(await waitForAnswer(m), { type: "approval", id: "ap-plan", decision: "allow", mode: "acceptEdits" });

  await second.getByRole("button", { name: "Keep planning" }).click();
  await second.locator(".ap-feedback.want").waitFor(); // nothing sent without feedback
  await second.locator(".ap-feedback").fill("Also handle --chars");
  await second.getByRole("button", { name: "Keep planning" }).click();
  assert.deepEqual(await waitForAnswer(m, 2), { type: "approval", id: "ap-plan-2", decision: "deny", message: "Also handle --chars" });
  m.push({ seq: 6, type: "approval_resolved", id: "ap-plan-2", decision: "deny", by: "owner" });
  await second.locator(".ap-outcome", { hasText: "Sent back to planning by owner" }).waitFor();
  await m.context.close();

  const m2 = await mockPage([...RUN, PLAN]);
  await m2.page.getByRole("radio", { name: /Ask first/ }).click();
  await m2.page.getByRole("button", { name: "Approve plan" }).click();
  assert.equal((await waitForAnswer(m2)).mode, "default");
  await m2.context.close();
});

test("cards are de-duplicated by id, rebuilt with their outcome on a reload, and say why they stopped waiting", { timeout: 60000 }, async () => {
  const resolvedLater = [
    { seq: 5, type: "approval", id: "ap-stop", run: 1, kind: "tool", tool: "WebFetch", detail: "https://example.com/", input: { url: "https://example.com/", prompt: "Summarise" }, suggestions: [] },
    { seq: 6, type: "approval_resolved", id: "ap-stop", decision: "cancelled", by: "owner" },
    { seq: 7, type: "approval", id: "ap-late", run: 1, kind: "tool", tool: "Bash", detail: "make", input: { command: "make" }, suggestions: [] },
    { seq: 8, type: "approval_resolved", id: "ap-late", decision: "timed_out", by: "server" },
  ];
  const m = await mockPage([...RUN, BASH, ...resolvedLater]);
  await m.page.locator('[data-approval="ap-stop"] .ap-outcome', { hasText: "Cancelled: the run was stopped" }).waitFor();
  await m.page.locator('[data-approval="ap-late"] .ap-outcome', { hasText: "Timed out — denied" }).waitFor();
  // The pending one again, without seq, as the server sends it on a connect.
  const { seq, ...again } = BASH;
  m.push(again);
  m.push({ seq: 9, type: "system", message: "marker" });
  await m.page.locator(".msg.system", { hasText: "marker" }).waitFor();
  assert.equal(await m.page.locator('[data-approval="ap-bash"]').count(), 1);
  assert.equal(await m.page.locator(".approval:not(.resolved)").count(), 1);

  // A reload replays everything: the same cards, the same outcomes.
  await m.page.reload();
  await until(m.page, () => window.homeclaude && window.homeclaude.connected);
  assert.equal(await m.page.locator(".approval").count(), 3);
  assert.equal(await m.page.locator(".approval.resolved").count(), 2);
  assert.equal(await m.page.title(), "⏳ Claude is waiting — homeclaude");

  // Answered elsewhere first: the word for already_resolved, then the outcome.
  await m.page.locator('[data-approval="ap-bash"]').getByRole("button", { name: "Allow" }).click();
  m.push({ type: "error", code: "already_resolved", id: "ap-bash", message: "already resolved" });
  await m.page.locator("#toast", { hasText: "Someone answered this first, or it was withdrawn." }).waitFor();
  m.push({ seq: 10, type: "approval_resolved", id: "ap-bash", decision: "deny", by: "owner" });
  await m.page.locator('[data-approval="ap-bash"] .ap-outcome', { hasText: "Denied by owner" }).waitFor();
  await until(m.page, () => document.title === "homeclaude");
  await m.context.close();
});

test("a waiting card out of view: a strip jumps to it", { timeout: 60000 }, async () => {
  const chatter = Array.from({ length: 12 }, (_, i) => ({ seq: 10 + i, type: "system", message: "line " + i }));
  const m = await mockPage([...RUN, BASH, ...chatter]);
  const strip = m.page.locator("#waiting");
  await m.page.evaluate(() => (document.getElementById("scroller").scrollTop = document.getElementById("scroller").scrollHeight));
  // Still in view at the bottom? Add chatter until it is not.
  for (let i = 0; i < 30 && !(await strip.isVisible()); i++) m.push({ seq: 30 + i, type: "system", message: "more " + i });
  await strip.waitFor();
  assert.match(await strip.textContent(), /Claude is waiting for you/);
  await strip.click();
  await strip.waitFor({ state: "hidden" });
  assert.ok(await m.page.locator('[data-approval="ap-bash"]').isVisible());
  await m.context.close();
});

test("permission mode: the chip shows it, the sheet switches it, never bypassPermissions", { timeout: 60000 }, async () => {
  const m = await mockPage([...RUN]);
  const chip = m.page.locator("#mode-chip");
  assert.equal(await chip.textContent(), "Ask first");
  await chip.click();
  await m.page.locator("#menu[open]").waitFor();
  const radios = m.page.locator("#mode-row [role=radio]");
  assert.deepEqual(await radios.allTextContents(), ["Ask first", "Accept edits", "Plan"]);
  await m.page.locator("#mode-row").getByRole("radio", { name: "Plan" }).click();
  const deadline = Date.now() + 10000;
  while (!m.sent.some((s) => s.command === "permission_mode") && Date.now() < deadline) await m.page.waitForTimeout(20);
  assert.deepEqual(m.sent.find((s) => s.command === "permission_mode"), { type: "command", command: "permission_mode", mode: "plan" });
  m.push({ seq: 4, type: "permission_mode", mode: "plan" });
  await until(m.page, () => document.getElementById("mode-chip").textContent === "Plan");
  assert.equal(await m.page.locator("#mode-row").getByRole("radio", { name: "Plan" }).getAttribute("aria-checked"), "true");
  await m.context.close();
});

test("a viewer sees the card and why it has no buttons", { timeout: 60000 }, async () => {
  const m = await mockPage([...RUN, BASH, { type: "error", code: "read_only", message: "read only" }]);
  const card = m.page.locator('[data-approval="ap-bash"]');
  await card.locator(".ap-viewer", { hasText: "Read-only link: only the owner can answer." }).waitFor();
  assert.equal(await card.getByRole("button", { name: "Allow" }).isVisible(), false);
  await m.context.close();
});

test("Korean: every word of the cards is Korean", { timeout: 60000 }, async () => {
  const m = await mockPage([...RUN, BASH, QUESTION, PLAN].map((e, i) => ({ ...e, seq: i + 1 })), { ...phone, locale: "ko-KR" });
  await m.page.locator(".approval").first().waitFor();
  const words = await m.page.locator(".approval .ap-title, .approval .ap-btn, .approval .ap-hint").allTextContents();
  for (const w of words) assert.match(w, /[가-힣]/, `not Korean: ${w}`);
  assert.equal(await m.page.title(), "⏳ Claude가 기다리는 중 — homeclaude");
  await m.context.close();
});
