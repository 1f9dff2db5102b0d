// The queue panel and the Stop button.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withBrowserAndServer, openPage, sendPrompt, until } from "./lib.mjs";

const env = withBrowserAndServer();

test("two prompts wait behind a running one; one is cancelled and never runs", { timeout: 90000 }, async () => {
  const { page, problems, context } = await openPage(env.browser, env.server.url);
  await sendPrompt(page, "@slow a long job");
  await page.locator(".run.running").waitFor();
  await page.locator("#stop").waitFor();
  await sendPrompt(page, "@quick second prompt");
  await sendPrompt(page, "@quick third prompt");

  const queue = page.locator("#queue");
  await until(page, () => document.querySelectorAll("#queue-list li").length === 2);
  assert.match(await queue.locator("#queue-count").textContent(), /2 waiting/);
  assert.deepEqual(await queue.locator(".qtext").allTextContents(), ["@quick second prompt", "@quick third prompt"]);
  // The waiting prompts say so in the chat too.
  await page.locator(".msg.user", { hasText: "@quick third prompt" }).locator(".tag").waitFor();

  await queue.locator("li", { hasText: "third prompt" }).locator("button.cancel").click();
  await until(page, () => document.querySelectorAll("#queue-list li").length === 1);
  assert.match(await queue.locator("#queue-count").textContent(), /1 waiting/);
  assert.deepEqual(await queue.locator(".qtext").allTextContents(), ["@quick second prompt"]);

  // Stop the long one: the next prompt runs; the cancelled one never does.
  await page.locator("#stop").click();
  await page.locator(".run.stopped").waitFor();
  await until(page, () => document.querySelectorAll(".run.done").length === 1);
  await until(page, () => document.getElementById("queue").hidden && document.getElementById("stop").hidden);
  assert.equal(await page.locator(".run").count(), 2);
  const runsAnswer = await page.locator(".run.done + .msg.claude").textContent();
  assert.match(runsAnswer, /Quick answer\./);
  // The answer follows the prompt it belongs to.
  const order = await page.locator("#log > *").evaluateAll((nodes) => nodes.map((n) => n.classList.contains("run") ? "run" : n.classList.contains("user") ? "user:" + n.querySelector(".bubble").textContent : n.classList.contains("claude") ? "claude" : "other"));
  assert.deepEqual(order.filter((x) => x !== "other"), [
    "user:@slow a long job", "run", "claude",
    "user:@quick second prompt", "run", "claude",
    "user:@quick third prompt",
  ]);
  assert.deepEqual(problems, []);
  await context.close();
});

test("Stop ends the running prompt and says so", { timeout: 60000 }, async () => {
  const { page, problems, context } = await openPage(env.browser, env.server.url);
  const runsBefore = await page.locator(".run").count();
  await sendPrompt(page, "@slow stop me");
  await until(page, (n) => document.querySelectorAll(".run").length > n, runsBefore);
  const run = page.locator(".run").nth(runsBefore);
  await run.locator(".step.tool-bash").waitFor();
  await page.locator(".msg.claude.streaming", { hasText: "Still waiting for the long job" }).waitFor();
  await page.locator("#stop").click();
  await until(page, (n) => document.querySelectorAll(".run")[n].classList.contains("stopped"), runsBefore);
  assert.match(await run.locator(".label").textContent(), /Stopped/);
  assert.match(await run.locator(".step.notice").textContent(), /Stopped/);
  // The partial text it had written stays, marked as cut short.
  assert.equal(await page.locator(".msg.claude.partial").last().isVisible(), true);
  await until(page, () => document.getElementById("stop").hidden);
  assert.deepEqual(problems, []);
  await context.close();
});
