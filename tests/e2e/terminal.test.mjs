// Shell commands from the chat box (`!cmd`, issue 17) and the Changes sheet (git),
// on a phone-sized page (390x844). Screenshots go to target/screenshots/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { withBrowserAndServer, openPage, sendPrompt, startServer, until, watchPage, root } from "./lib.mjs";

const env = withBrowserAndServer();
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 };
const shots = path.join(root, "target", "screenshots");
mkdirSync(shots, { recursive: true });

function git(dir, ...args) {
  const r = spawnSync("git", ["-c", "user.name=Pi", "-c", "user.email=pi@example.com", ...args], { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
}

test("!ls runs in the project and its colours are drawn", { timeout: 60000 }, async () => {
  const { page, problems, context } = await openPage(env.browser, env.server.url, PHONE);
  await sendPrompt(page, "!ls --color=always; printf 'plain \\033[1;31mred bold\\033[0m back\\n'; echo warning >&2");
  const card = page.locator(".run.shell").last();
  await card.locator(".run-foot .stats").waitFor();
  assert.match(await card.locator(".run-foot").textContent(), /exit 0/);
  assert.ok(await card.evaluate((c) => c.classList.contains("done")));
  // ls colours directories bold blue (01;34): `data` is one.
  const dir = card.locator(".shell-out span.af4.abold", { hasText: "data" });
  assert.equal(await dir.count(), 1);
  assert.equal(await card.locator(".shell-out span.af1.abold").textContent(), "red bold");
  const red = await card.locator(".shell-out span.af1").evaluate((s) => getComputedStyle(s).fontWeight);
  assert.equal(red, "700");
  // No escape bytes reach the page; stderr is marked.
  const text = await card.locator(".shell-out").textContent();
  assert.ok(!text.includes("\x1b") && !text.includes("[0m"), JSON.stringify(text));
  assert.match(text, /plain red bold back/);
  assert.equal(await card.locator(".shell-out .se").textContent(), "warning\n");
  // It was a shell command, not a prompt: no message bubble, no run.
  assert.equal(await page.locator(".msg.user").count(), 0);
  await page.screenshot({ path: path.join(shots, "phone-light-shell.png") });
  assert.deepEqual(problems, []);
  await context.close();
});

test("a long-running command is stopped from its card; long output is collapsed", { timeout: 60000 }, async () => {
  const { page, problems, context } = await openPage(env.browser, env.server.url, { ...PHONE, colorScheme: "dark" });
  await sendPrompt(page, "!seq 1 400");
  const long = page.locator(".run.shell", { hasText: "seq 1 400" });
  await long.locator(".run-foot .stats").waitFor();
  await long.locator(".shell-more").waitFor();
  const [shown, full] = await long.locator(".shell-out").evaluate((p) => [p.clientHeight, p.scrollHeight]);
  assert.ok(full > shown * 2, `collapsed: ${shown} of ${full}`);
  await long.locator(".shell-more").click();
  await until(page, () => {
    const p = [...document.querySelectorAll(".run.shell")].pop().querySelector(".shell-out");
    return p.clientHeight >= p.scrollHeight - 2;
  });
  await sendPrompt(page, "!echo started; sleep 100");
  const card = page.locator(".run.shell", { hasText: "sleep 100" });
  await card.locator(".shell-out", { hasText: "started" }).waitFor();
  assert.ok(await card.evaluate((c) => c.classList.contains("running")));
  assert.match(await card.locator(".shell-note").textContent(), /Not a terminal/);
  await page.screenshot({ path: path.join(shots, "phone-dark-shell-running.png") });
  await card.locator(".shell-stop").click();
  await card.locator(".run-foot .stats").waitFor();
  assert.match(await card.locator(".run-foot").textContent(), /ended by SIGINT/);
  assert.ok(await card.evaluate((c) => c.classList.contains("stopped")));
  assert.deepEqual(problems, []);
  await context.close();
});

test("the Changes sheet lists the repository's files and shows a diff like an Edit card", { timeout: 60000 }, async () => {
  const dir = env.server.dir;
  writeFileSync(path.join(dir, ".gitignore"), "data/\nclaude/\n");
  writeFileSync(path.join(dir, "app.py"), "def main():\n    print('hello')\n");
  writeFileSync(path.join(dir, "README.md"), "# Demo\n");
  git(dir, "init", "-q", "-b", "main");
  git(dir, "add", ".");
  git(dir, "commit", "-q", "-m", "First commit");
  writeFileSync(path.join(dir, "app.py"), "def main():\n    print('hello, world')\n    return 0\n");
  writeFileSync(path.join(dir, "README.md"), "# Demo\n\nRun `python app.py`.\n");
  git(dir, "add", "README.md");
  writeFileSync(path.join(dir, "notes.txt"), "todo\n");

  const { page, problems, context } = await openPage(env.browser, env.server.url, PHONE);
  await page.locator("#menu-btn").click();
  await page.locator("#act-changes").scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, "phone-light-menu.png") });
  await page.locator("#act-changes").click();
  const sheet = page.locator("#changes");
  await sheet.locator(".change").first().waitFor();
  assert.match(await sheet.locator("#changes-branch").textContent(), /^main/);
  const titles = await sheet.locator(".changes-title").allTextContents();
  assert.deepEqual(titles, ["Staged · 1", "Not staged · 1", "Untracked · 1", "Recent commits"]);
  assert.match(await sheet.locator(".commit").first().textContent(), /First commit/);
  const row = sheet.locator(".change", { hasText: "app.py" });
  await row.locator("summary").click();
  await row.locator(".diff .add").first().waitFor();
  assert.deepEqual(await row.locator(".diff .add").allTextContents(), ["+    print('hello, world')", "+    return 0"]);
  assert.deepEqual(await row.locator(".diff .del").allTextContents(), ["-    print('hello')"]);
  // Rendered with the Edit cards' colours.
  const [addBg, delBg] = await row.evaluate((r) => [".add", ".del"].map((c) => getComputedStyle(r.querySelector(".diff " + c)).backgroundColor));
  assert.notEqual(addBg, delBg);
  await page.screenshot({ path: path.join(shots, "phone-light-changes.png") });
  // Untracked files have no diff against the index: said so.
  const untracked = sheet.locator(".change", { hasText: "notes.txt" });
  await untracked.locator("summary").click();
  await untracked.locator(".cut").waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test("a viewer sees the owner's command and its output, with no Stop and no Changes", { timeout: 60000 }, async () => {
  const server = await startServer({ auth: true });
  try {
    const login = async (token) => {
      const context = await env.browser.newContext(PHONE);
      const page = await context.newPage();
      const problems = watchPage(page);
      await page.goto(server.url + "/login?token=" + encodeURIComponent(token));
      await until(page, () => window.homeclaude && window.homeclaude.connected);
      return { context, page, problems };
    };
    const owner = await login(server.tokens.owner);
    const viewer = await login(server.tokens.viewer);
    await sendPrompt(owner.page, "!echo seen by all; sleep 100");
    const card = viewer.page.locator(".run.shell", { hasText: "sleep 100" });
    await card.locator(".shell-out", { hasText: "seen by all" }).waitFor();
    assert.equal(await card.locator(".shell-stop").isVisible(), false);
    // No settings button for a viewer (the composer is hidden), and the Changes
    // button is hidden too.
    assert.equal(await viewer.page.locator("#act-changes").evaluate((b) => getComputedStyle(b).display), "none");
    assert.equal(await owner.page.locator("#act-changes").evaluate((b) => getComputedStyle(b).display), "inline-block");
    await viewer.page.screenshot({ path: path.join(shots, "phone-light-shell-viewer.png") });
    // The owner stops it; the viewer sees it end.
    await owner.page.locator(".run.shell .shell-stop").click();
    await card.locator(".run-foot .stats").waitFor();
    assert.match(await card.locator(".run-foot").textContent(), /SIGINT/);
    assert.deepEqual(owner.problems, []);
    assert.deepEqual(viewer.problems, []);
    await owner.context.close();
    await viewer.context.close();
  } finally {
    await server.stop();
  }
});
