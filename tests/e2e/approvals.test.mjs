// Answering Claude from the phone, end to end: the real server, the fake CLI
// speaking the control protocol (`@ask` in a transcript prints a `can_use_tool`
// request and waits for its answer on stdin, which it records), and the page in
// Chromium at phone size. Each test checks the card, the answer the CLI got, and
// what every other page shows.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchBrowser, startServer, startProxy, openPage, until } from "./lib.mjs";
import { scenarios, transcript, QUESTIONS } from "./approval-scenarios.mjs";

const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "en-US" };

let browser, server, scenarioDir;
before(async () => {
  scenarioDir = mkdtempSync(path.join(tmpdir(), "homeclaude-approvals-"));
  for (const [name, lines] of Object.entries(scenarios)) {
    writeFileSync(path.join(scenarioDir, name + ".jsonl"), transcript(lines));
  }
  browser = await launchBrowser();
  server = await startServer({ auth: true, env: { FAKE_CLAUDE_TRANSCRIPT_DIR: scenarioDir, FAKE_CLAUDE_RECORD: path.join(scenarioDir, "stdin.jsonl") } });
});
after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(scenarioDir, { recursive: true, force: true });
});

/** The control responses the fake CLI received for `id`. */
function responseTo(id) {
  const file = path.join(scenarioDir, "stdin.jsonl");
  if (!existsSync(file)) return null;
  for (const l of readFileSync(file, "utf8").split("\n")) {
    try {
      const v = JSON.parse(l);
      if (v.type === "control_response" && v.response.request_id === id) return v.response.response;
    } catch (_) {
      /* argv and signal lines */
    }
  }
  return null;
}
async function cliGot(page, id) {
  // The fake writes its stdin record as it reads: wait for the line, on the page's clock.
  for (let i = 0; i < 500; i++) {
    const r = responseTo(id);
    if (r) return r;
    await page.waitForTimeout(20);
  }
  throw new Error("the CLI never got an answer to " + id);
}
async function ownerPage(role = "owner", options = phone) {
  const { context, page, problems } = await openPage(browser, server.url + "/login?token=" + encodeURIComponent(server.tokens[role]), options);
  return { context, page, problems };
}
// On a phone Enter is a new line: the button sends.
async function sendPrompt(page, text) {
  await page.locator("#prompt").fill(text);
  await page.locator("#send").tap();
}
const card = (page, id) => page.locator(`.run .approval[data-approval="${id}"]`);
const finished = (page) => page.locator(".run.done").last().waitFor({ timeout: 20000 });

test("a tool approval reaches two pages; one taps Allow, the CLI gets it, the other sees who", { timeout: 90000 }, async () => {
  const a = await ownerPage();
  const b = await ownerPage();
  await sendPrompt(a.page, "@bash");
  for (const p of [a.page, b.page]) {
    await card(p, "req-1").waitFor();
    assert.equal(await card(p, "req-1").locator("pre.cmd").textContent(), "$ touch approved.txt");
    await until(p, () => document.title === "⏳ Claude is waiting — homeclaude");
  }
  // The card sits in its run's story, after the tool's row.
  assert.equal(await a.page.locator(".run .steps > .tool-bash + .approval").count(), 1);
  await card(a.page, "req-1").getByRole("button", { name: "Allow", exact: true }).tap();
  assert.deepEqual(await cliGot(a.page, "req-1"), { behavior: "allow", updatedInput: { command: "touch approved.txt", description: "Run it" } });
  for (const p of [a.page, b.page]) {
    await card(p, "req-1").locator(".ap-outcome", { hasText: "Allowed by owner" }).waitFor();
    assert.equal(await card(p, "req-1").locator(".ap-sending").isVisible(), false);
    assert.equal(await card(p, "req-1").getByRole("button", { name: "Allow", exact: true }).isVisible(), false);
    await until(p, () => document.title === "homeclaude");
  }
  await finished(a.page);
  assert.deepEqual([...a.problems, ...b.problems], []);
  await a.context.close();
  await b.context.close();
});

test("Deny with a reason, seen on every page; Always for this session is not asked again", { timeout: 90000 }, async () => {
  const { context, page } = await ownerPage();
  const other = await ownerPage();
  await sendPrompt(page, "@deny");
  await card(other.page, "req-c").waitFor();
  await card(page, "req-c").locator(".ap-reason").fill("Not the build directory");
  await card(page, "req-c").getByRole("button", { name: "Deny", exact: true }).tap();
  assert.deepEqual(await cliGot(page, "req-c"), { behavior: "deny", message: "Not the build directory" });
  for (const p of [page, other.page]) {
    await card(p, "req-c").locator(".ap-outcome", { hasText: "Denied by owner" }).waitFor();
    assert.equal(await card(p, "req-c").locator(".ap-said").textContent(), "Not the build directory");
  }
  await other.context.close();
  await finished(page);

  const runs = await page.locator(".run.done").count();
  await sendPrompt(page, "@always");
  const a = card(page, "req-a");
  await a.getByRole("button", { name: "Always…" }).tap();
  assert.equal(await a.locator(".ap-always-what").textContent(), "Don't ask again for Bash(touch always.txt):");
  await a.getByRole("button", { name: "This session" }).tap();
  const r = await cliGot(page, "req-a");
  assert.equal(r.behavior, "allow");
  assert.equal(r.updatedPermissions[0].destination, "session");
  await a.locator(".ap-outcome", { hasText: "Always allowed by owner" }).waitFor();
  await until(page, (n) => document.querySelectorAll(".run.done").length === n + 1, runs);
  assert.equal(await page.locator('[data-approval="req-b"]').count(), 0, "the same command was not asked again");
  await context.close();
});

test("Deny and stop: the CLI is told to end the turn, and every page says so", { timeout: 90000 }, async () => {
  const { context, page } = await ownerPage();
  const other = await ownerPage();
  await sendPrompt(page, "@denystop");
  await card(other.page, "req-s").waitFor();
  await card(page, "req-s").locator(".ap-reason").fill("Wrong repository");
  await card(page, "req-s").getByRole("button", { name: "Deny and stop the run" }).tap();
  assert.deepEqual(await cliGot(page, "req-s"), { behavior: "deny", message: "Wrong repository", interrupt: true });
  for (const p of [page, other.page]) {
    await card(p, "req-s").locator(".ap-outcome", { hasText: "Denied and stopped by owner" }).waitFor();
    assert.equal(await card(p, "req-s").locator(".ap-said").textContent(), "Wrong repository");
  }
  await other.context.close();
  await context.close();
});

test("a question card: one choice replaced by typed text, many choices; the CLI gets the answers", { timeout: 90000 }, async () => {
  const { context, page } = await ownerPage();
  await sendPrompt(page, "@question");
  const q = card(page, "req-q");
  await q.waitFor();
  assert.equal(await q.locator(".ap-title").textContent(), "Claude has questions");
  await q.getByRole("button", { name: /^SQLite/ }).tap();
  await q.getByRole("textbox", { name: /Which database/ }).fill("DuckDB");
  await q.getByRole("button", { name: /^Metrics/ }).tap();
  await q.getByRole("button", { name: /^Audit log/ }).tap();
  await q.getByRole("button", { name: "Send answers" }).tap();
  const r = await cliGot(page, "req-q");
  assert.equal(r.behavior, "allow");
  assert.deepEqual(r.updatedInput.answers, { "Which database should the app use?": "DuckDB", "Which features do you want?": ["Metrics", "Audit log"] });
  assert.deepEqual(r.updatedInput.questions, QUESTIONS);
  await q.locator(".ap-outcome", { hasText: "Answered by owner" }).waitFor();
  await finished(page);
  await context.close();
});

test("a plan: approved into acceptEdits (the mode follows), then one sent back with feedback", { timeout: 90000 }, async () => {
  const { context, page } = await ownerPage();
  await sendPrompt(page, "@plan");
  const p = card(page, "req-p");
  await p.locator(".ap-plan h1", { hasText: "Add a --lines flag" }).waitFor();
  assert.equal(await p.locator(".ap-plan code").first().textContent(), "--lines");
  await p.getByRole("button", { name: "Approve plan" }).tap();
  const r = await cliGot(page, "req-p");
  assert.equal(r.behavior, "allow");
  assert.deepEqual(r.updatedPermissions, [{ type: "setMode", mode: "acceptEdits", destination: "session" }]);
  await p.locator(".ap-outcome", { hasText: "Plan approved by owner" }).waitFor();
  await until(page, () => document.getElementById("mode-chip").textContent === "Edits OK");
  await finished(page);

  await sendPrompt(page, "@plan2");
  const p2 = card(page, "req-p2");
  await p2.locator(".ap-feedback").fill("Also count characters");
  await p2.getByRole("button", { name: "Keep planning" }).tap();
  assert.deepEqual(await cliGot(page, "req-p2"), { behavior: "deny", message: "Also count characters" });
  await p2.locator(".ap-outcome", { hasText: "Sent back to planning by owner" }).waitFor();
  await context.close();
});

test("the mode selector switches the session's mode on every page", { timeout: 60000 }, async () => {
  const a = await ownerPage();
  const b = await ownerPage();
  await a.page.locator("#mode-chip").tap();
  await a.page.locator("#mode-row").getByRole("radio", { name: "Plan" }).tap();
  for (const p of [a.page, b.page]) await until(p, () => document.getElementById("mode-chip").textContent === "Plan");
  await a.page.locator("#mode-row").getByRole("radio", { name: "Ask first" }).tap();
  await until(b.page, () => document.getElementById("mode-chip").textContent === "Ask first");
  await a.context.close();
  await b.context.close();
});

test("a viewer sees the card without buttons and why; a page that reconnects or reloads while it waits gets it back", { timeout: 90000 }, async () => {
  const proxy = await startProxy(server.port);
  try {
    const owner = await ownerPage();
    const viewer = await ownerPage("viewer");
    // The second owner page goes through the proxy, so its connection can be cut.
    const { context, page } = await openPage(browser, proxy.url + "/login?token=" + encodeURIComponent(server.tokens.owner), phone);
    await sendPrompt(owner.page, "@write");
    const v = card(viewer.page, "req-w");
    await v.locator(".ap-viewer", { hasText: "Read-only link: only the owner can answer." }).waitFor();
    assert.equal(await v.getByRole("button", { name: "Allow", exact: true }).isVisible(), false);
    assert.deepEqual(await v.locator(".diff .add").allTextContents(), ["+ # Notes", "+ ", "+ Count lines with --lines.", "+ Count words by default."]);

    await card(page, "req-w").waitFor();
    proxy.blockWebSockets(true);
    proxy.cut();
    await until(page, () => !window.homeclaude.connected);
    proxy.blockWebSockets(false);
    await until(page, () => window.homeclaude.connected);
    assert.equal(await page.locator(".approval").count(), await owner.page.locator(".approval").count(), "no card twice, none lost");
    assert.equal(await page.locator('[data-approval="req-w"]:not(.resolved)').count(), 1);
    assert.equal(await page.locator(".msg.system", { hasText: "restarted" }).count(), 0, "a pending approval sent again is not a server restart");

    await page.reload();
    await until(page, () => window.homeclaude && window.homeclaude.connected);
    await card(page, "req-w").getByRole("button", { name: "Allow", exact: true }).tap();
    assert.equal((await cliGot(page, "req-w")).behavior, "allow");
    for (const p of [owner.page, viewer.page, page]) await card(p, "req-w").locator(".ap-outcome", { hasText: "Allowed by owner" }).waitFor();
    await finished(owner.page);
    await owner.context.close();
    await viewer.context.close();
    await context.close();
  } finally {
    await proxy.close();
  }
});
