// A prompt from the page to the fake claude and back: streamed text, the run card
// (tool rows, Edit diff, TodoWrite list, stats, resume command) and the answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withBrowserAndServer, openPage, sendPrompt, until } from "./lib.mjs";

const env = withBrowserAndServer();

test("a prompt streams text, shows a tool card with a diff and a to-do list, and ends with stats", { timeout: 60000 }, async () => {
  const { page, problems, context } = await openPage(env.browser, env.server.url);
  // Record every text the streaming bubble shows, so the test sees the stream
  // itself and not only where it ended.
  await page.evaluate(() => {
    window.__drafts = [];
    new MutationObserver(() => {
      document.querySelectorAll(".msg.claude.streaming .bubble").forEach((b) => window.__drafts.push(b.textContent));
    }).observe(document.getElementById("log"), { subtree: true, childList: true, characterData: true, attributes: true });
  });
  await sendPrompt(page, "Count lines too, please");

  // The prompt comes back from the server and is marked delivered.
  await page.locator(".msg.user.delivered", { hasText: "Count lines too, please" }).waitFor();
  // Streamed: a draft that is only the start of the first sentence was shown.
  await until(page, () => window.__drafts.some((d) => d === "I'll look at how "));
  const run = page.locator(".run");
  await page.locator(".run.done").waitFor({ timeout: 30000 });
  assert.equal(await run.count(), 1);
  assert.match(await run.locator(".model").textContent(), /claude-sonnet-4-5/);

  // The narration moved into the card; the thinking block is there, collapsed.
  assert.equal((await run.locator(".step.narration .text").first().textContent()).trim(), "I'll look at how words are counted first.");
  assert.equal(await run.locator(".step.thinking").count(), 1);
  assert.equal(await run.locator(".step.thinking").getAttribute("open"), null);

  // One row per tool call, each with an icon, finished without error.
  const names = await run.locator(".step.tool .tname").allTextContents();
  assert.deepEqual(names, ["TodoWrite", "Read", "Grep", "TodoWrite", "Edit", "Bash", "TodoWrite"]);
  assert.equal(await run.locator(".step.tool svg.i").count(), 7);
  assert.equal(await run.locator(".step.tool.ok").count(), 7);
  assert.match(await run.locator(".tool-read .tmeta").textContent(), /48 lines/);
  assert.equal(await run.locator(".tool-grep .tdetail").textContent(), "fn count");

  // Edit: a red/green line diff, shown on a tap.
  const edit = run.locator(".step.tool-edit");
  assert.equal(await edit.locator(".tdetail").textContent(), "src/main.rs");
  await edit.locator("summary").click();
  await edit.locator(".diff").waitFor();
  assert.deepEqual(await edit.locator(".diff .del").allTextContents(), ["- fn count(text: &str) -> usize {"]);
  assert.deepEqual(await edit.locator(".diff .add").allTextContents(), [
    "+ fn count(text: &str, lines: bool) -> usize {",
    "+     if lines {",
    "+         return text.lines().count();",
    "+     }",
  ]);
  assert.ok(await edit.locator(".diff .ctx").count() >= 2, "unchanged lines are shown as context");

  // TodoWrite: the newest list is open with its status icons; older ones closed.
  const todo = run.locator(".step.tool-todowrite");
  assert.equal(await todo.count(), 3);
  assert.equal(await todo.nth(0).getAttribute("open"), null);
  assert.notEqual(await todo.nth(2).getAttribute("open"), null);
  assert.deepEqual(await todo.nth(1).locator(".todos li").evaluateAll((lis) => lis.map((li) => li.className)), ["completed", "in_progress", "pending"]);
  assert.deepEqual(await todo.nth(2).locator(".todos li").allTextContents(), ["Read the counting code", "Add a --lines flag", "Run the tests"]);
  assert.match(await todo.nth(2).locator(".tmeta").textContent(), /3\/3/);

  // Bash: the command and its output.
  const bash = run.locator(".step.tool-bash");
  await bash.locator("summary").click();
  assert.equal(await bash.locator("pre.cmd").textContent(), "$ cargo test --quiet");
  assert.match(await bash.locator("pre.out").textContent(), /test result: ok\. 6 passed/);

  // Stats: time, cost, tokens, turns; and how to go on in a terminal.
  const stats = await run.locator(".stats").textContent();
  assert.match(stats, /12\.4s|12s/);
  assert.match(stats, /\$0\.04 /);
  assert.match(stats, /43,048 in \/ 1,215 out tokens/);
  assert.match(stats, /· \d+ turns$/);
  assert.match(await run.locator(".resume code").textContent(), /claude --resume 7d2f0c1e-5b7a-4c52-9b8e-3f1a2c4d5e6f/);
  assert.equal(await run.locator(".elapsed").textContent(), "12s");

  // The answer: rendered markdown with a code block that scrolls and can be copied.
  const answer = page.locator(".msg.claude").last();
  await until(page, () => !document.querySelector(".msg.claude.streaming"));
  assert.match(await answer.textContent(), /wordcount --lines/);
  assert.equal(await answer.locator(".bubble.md").count(), 1, "Claude's answer is rendered markdown");
  assert.equal(await answer.locator(".codewrap pre.code").count(), 2);
  assert.equal(await answer.locator(".codewrap .copy-btn").count(), 2);
  assert.equal(await answer.locator(".codewrap .lang").first().textContent(), "rust");
  assert.equal(await answer.locator("pre.code").first().evaluate((p) => getComputedStyle(p).overflowX), "auto");
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  // The button says "Copied" for a moment once the write is done; catch that moment.
  await page.evaluate(() => {
    new MutationObserver((_, obs) => {
      if (document.querySelector(".copy-btn.done")) {
        window.__copied = true;
        obs.disconnect();
      }
    }).observe(document.getElementById("log"), { subtree: true, attributes: true, attributeFilter: ["class"] });
  });
  // The Clipboard API writes only from a focused document, as a real tap gives.
  await page.bringToFront();
  await answer.locator(".copy-btn").first().click();
  await until(page, () => window.__copied === true);
  assert.match(await page.evaluate(() => navigator.clipboard.readText()), /^fn count\(text: &str, lines: bool\)/);

  // The queue emptied and the Stop button went away.
  assert.equal(await page.locator("#queue").isHidden(), true);
  assert.equal(await page.locator("#stop").isHidden(), true);
  assert.deepEqual(problems, []);
  await context.close();
});

test("a phone: Enter makes a new line, the button sends, nothing scrolls sideways at 360 px", { timeout: 60000 }, async () => {
  const { page, problems, context } = await openPage(env.browser, env.server.url, {
    viewport: { width: 360, height: 740 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  });
  await page.locator("#prompt").tap();
  await page.locator("#prompt").fill("first line");
  await page.locator("#prompt").press("Enter");
  await page.locator("#prompt").type("second line");
  assert.equal(await page.locator("#prompt").inputValue(), "first line\nsecond line");
  assert.equal(await page.locator("#pending .msg").count(), 0, "Enter did not send");
  const before = await page.locator("#prompt").evaluate((t) => t.getBoundingClientRect().height);
  await page.locator("#prompt").type("\nthird\nfourth");
  const grown = await page.locator("#prompt").evaluate((t) => t.getBoundingClientRect().height);
  assert.ok(grown > before, `the input grows (${before} -> ${grown})`);
  await page.locator("#send").tap();
  await page.locator(".msg.user.delivered", { hasText: "second line" }).waitFor();
  await page.locator(".msg.claude:not(.streaming) .bubble.md").last().waitFor({ timeout: 30000 });
  await until(page, () => document.querySelectorAll(".run.done").length >= 1);
  // Open every row so the widest content is laid out too.
  await page.locator(".step > summary").evaluateAll((ss) => ss.forEach((s) => (s.parentElement.open = true)));
  const widths = await page.evaluate(() => ({
    doc: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
    main: document.getElementById("scroller").scrollWidth,
    view: window.innerWidth,
  }));
  assert.ok(widths.doc <= widths.view && widths.body <= widths.view && widths.main <= widths.view, JSON.stringify(widths));
  // Touch targets: the buttons a thumb uses are at least 44 px.
  for (const id of ["#send", "#menu-btn", "#new-session"]) {
    const box = await page.locator(id).boundingBox();
    assert.ok(box.width >= 44 && box.height >= 44, `${id} is ${box.width}x${box.height}`);
  }
  assert.deepEqual(problems, []);
  await context.close();
});
