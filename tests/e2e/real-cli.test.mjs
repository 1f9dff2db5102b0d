// The real `claude` CLI (the pinned npm package, .ci/claude-cli.sh) behind the page:
// homeclaude runs it against the project's Messages API stand-in (mock-api, on
// loopback, no account), and a person answers Claude's questions by tapping the
// card in Chromium at phone size. The answers must reach the model: the stand-in's
// next reply quotes the tool result the CLI made of them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { launchBrowser, startServer, openPage, root } from "./lib.mjs";

const target = process.env.CARGO_TARGET_DIR || path.join(root, "target");
const claude =
  process.env.HOMECLAUDE_REAL_CLAUDE ||
  path.join(target, "claude-cli/node_modules/@anthropic-ai/claude-code-linux-x64/claude");
const mockApi = path.join(target, "debug", "mock-api");
const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "en-US" };

let browser, server, api, home;

/** Starts mock-api and resolves with its address (its first stdout line). */
function startMockApi() {
  const proc = spawn(mockApi, [], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.once("line", (line) => {
      const m = line.match(/^listening (\S+)/);
      if (m) resolve({ proc, addr: m[1] });
      else reject(new Error("mock-api said " + line));
    });
    proc.once("exit", (code) => reject(new Error("mock-api exited " + code)));
  });
}

before(async () => {
  if (!existsSync(claude)) {
    if (process.env.HOMECLAUDE_SKIP_REAL_CLI === "1") return;
    throw new Error(`no real claude CLI at ${claude}: run bash .ci/claude-cli.sh`);
  }
  api = await startMockApi();
  home = mkdtempSync(path.join(tmpdir(), "homeclaude-e2e-claude-home-"));
  const project = path.join(home, "project");
  mkdirSync(project);
  browser = await launchBrowser();
  server = await startServer({
    auth: true,
    args: ["--claude", claude, "--workdir", project],
    env: {
      ANTHROPIC_BASE_URL: "http://" + api.addr,
      ANTHROPIC_API_KEY: "test-key",
      ANTHROPIC_MODEL: "claude-sonnet-4-5-20250929",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
      HOME: home,
    },
  });
});
after(async () => {
  await browser?.close();
  await server?.stop();
  api?.proc.kill();
  if (home) rmSync(home, { recursive: true, force: true });
});

test("AskUserQuestion from the real CLI: the card is tapped and the answers reach the model", { timeout: 120000 }, async (t) => {
  if (!server) return t.skip("HOMECLAUDE_SKIP_REAL_CLI=1");
  const { context, page } = await openPage(browser, server.url + "/login?token=" + encodeURIComponent(server.tokens.owner), phone);
  await page.locator("#prompt").fill("SCENARIO_ASK set up the app");
  await page.locator("#send").tap();
  const card = page.locator(".run .approval").first();
  await card.waitFor({ timeout: 60000 });
  assert.equal(await card.locator(".ap-title").textContent(), "Claude has questions");
  await card.getByRole("button", { name: /^SQLite/ }).tap();
  await card.getByRole("button", { name: /^Metrics/ }).tap();
  await card.getByRole("button", { name: /^Backups/ }).tap();
  await card.getByRole("button", { name: "Send answers" }).tap();
  await card.locator(".ap-outcome", { hasText: "Answered by owner" }).waitFor();
  // The stand-in's answer quotes the tool result: the CLI's own wording of the answers.
  const answer = page.locator(".msg.claude", { hasText: "Thanks." }).last();
  await answer.waitFor({ timeout: 60000 });
  const text = await answer.textContent();
  assert.match(text, /"Which database should the app use\?"="SQLite"/);
  assert.match(text, /Metrics/);
  assert.match(text, /Backups/);
  await context.close();
});
