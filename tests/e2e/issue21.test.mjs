// The defects a new user hit (issue 21), one test each: each failed on the page
// before its fix.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startServer, openPage, sendPrompt, until } from "./lib.mjs";
import { before, after } from "node:test";

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 };
let browser;
let server;
before(async () => {
  browser = await launchBrowser();
  server = await startServer({ env: { FAKE_CLAUDE_DELAY_MS: "20" } });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A server of a test's own, stopped when the test ends, passed or failed. */
async function ownServer(t, opts) {
  const s = await startServer(opts);
  t.after(() => s.stop());
  return s;
}

/** Sends a prompt as a phone user does: the Send button (Enter is a new line). */
async function tapSend(page, text) {
  await page.locator("#prompt").fill(text);
  await page.locator("#send").tap();
}

/** Records in the page whether "Scroll to the latest" ever showed. */
async function watchJump(page) {
  await page.evaluate(() => {
    window.__jumpShown = false;
    const jump = document.getElementById("jump");
    new MutationObserver(() => {
      if (!jump.hidden) window.__jumpShown = true;
    }).observe(jump, { attributes: true });
  });
}

test("1: the view follows a long run to its end when nobody touches the screen", { timeout: 90000 }, async (t) => {
  // Each line in its own frame, as a real run streams (faster, the page's frames
  // would batch what a real run spreads out).
  const slow = await ownServer(t, { env: { FAKE_CLAUDE_DELAY_MS: process.env.E2E_NOTES_DELAY || "60" } });
  const { page, context } = await openPage(browser, slow.url, PHONE);
  await watchJump(page);
  await tapSend(page, "@notes check every requirement");
  await page.locator(".run.done").waitFor({ timeout: 60000 });
  await until(page, () => !document.querySelector(".msg.claude.streaming") && document.querySelector(".msg.claude .bubble.md"));
  // Let the last scroll land: the page follows on animation frames.
  await until(page, () => {
    const s = document.getElementById("scroller");
    return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  }, undefined, 5000).catch(() => {});
  const gap = await page.evaluate(() => {
    const s = document.getElementById("scroller");
    return s.scrollHeight - s.scrollTop - s.clientHeight;
  });
  assert.equal(await page.evaluate(() => window.__jumpShown), false, "'Scroll to the latest' appeared though nobody scrolled");
  assert.ok(gap < 48, `the answer ends ${gap} px below the view`);
  await context.close();
});

test("1: a scroll the browser makes (anchoring, a shrinking block) does not stop the following; the user's does", { timeout: 90000 }, async (t) => {
  const slow = await ownServer(t, { env: { FAKE_CLAUDE_DELAY_MS: "100" } });
  const { page, context } = await openPage(browser, slow.url, PHONE);
  await watchJump(page);
  await tapSend(page, "@notes check every requirement");
  await page.locator(".run .step.narration").nth(1).waitFor({ timeout: 60000 });
  // What the browser does when content above the view changes size: it moves the
  // view by itself, up, with no touch. Twice, a frame apart.
  await page.evaluate(async () => {
    const s = document.getElementById("scroller");
    for (let i = 0; i < 2; i++) {
      s.scrollTop -= 200;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    }
  });
  await page.locator(".run .step.narration").nth(3).waitFor({ timeout: 60000 });
  assert.equal(await page.evaluate(() => window.__jumpShown), false, "a browser-made scroll stopped the following");
  // The user's own scroll up does stop it, and says how to get back.
  await page.locator("#scroller").hover();
  await page.mouse.wheel(0, -600);
  await page.locator("#jump").waitFor();
  await page.locator(".run.done").waitFor({ timeout: 60000 });
  assert.equal(await page.locator("#jump").isVisible(), true, "still not following after the user scrolled up");
  await page.locator("#jump").tap();
  await until(page, () => {
    const s = document.getElementById("scroller");
    return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  });
  await context.close();
});

test("2: notes between tool calls are rendered markdown, like answers", { timeout: 90000 }, async () => {
  const { page, context } = await openPage(browser, server.url);
  await sendPrompt(page, "@notes render the notes");
  const run = page.locator(".run").last();
  await run.locator(".step.narration").nth(4).waitFor({ timeout: 60000 });
  const note = run.locator(".step.narration .text").first();
  assert.ok(await note.locator("strong").count() >= 8, "bold in the note is bold");
  assert.equal(await note.locator("ol > li").count(), 8, "the numbered list is a list");
  assert.doesNotMatch(await note.textContent(), /\*\*/);
  await page.locator(".run.done").last().waitFor({ timeout: 60000 });
  await context.close();
});

test("3: a cancelled queued prompt is marked cancelled, not delivered", { timeout: 90000 }, async () => {
  const { page, context, problems } = await openPage(browser, server.url);
  await sendPrompt(page, "@slow hold the queue");
  await page.locator("#stop").waitFor();
  await sendPrompt(page, "@quick never mind this one");
  const mine = page.locator(".msg.user", { hasText: "never mind this one" });
  await mine.locator(".tag").waitFor();
  await page.locator("#queue-list li", { hasText: "never mind" }).locator("button.cancel").click();
  await mine.locator(".state.cancelled").waitFor();
  assert.match(await mine.locator(".meta").textContent(), /cancelled/);
  assert.doesNotMatch(await mine.locator(".meta").textContent(), /delivered/);
  // Another device (a reload) sees the same.
  await page.reload();
  await until(page, () => window.homeclaude && window.homeclaude.connected);
  await page.locator(".msg.user", { hasText: "never mind this one" }).locator(".state.cancelled").waitFor();
  await page.locator("#stop").click();
  await page.locator(".run.stopped").last().waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test("4: Korean reaches the login page and the to-do summary", { timeout: 90000 }, async () => {
  const authed = await startServer({ auth: true });
  try {
    const context = await browser.newContext({ locale: "ko-KR", extraHTTPHeaders: { "Accept-Language": "ko-KR,ko;q=0.9" } });
    const page = await context.newPage();
    await page.goto(authed.url + "/login");
    assert.equal(await page.locator("html").getAttribute("lang"), "ko");
    assert.equal(await page.locator("label[for=token]").textContent(), "토큰");
    await page.locator("input[name=token]").fill("wrong");
    await page.locator("input[name=token]").press("Enter");
    await page.locator(".error").waitFor();
    assert.match(await page.locator(".error").textContent(), /토큰이 올바르지 않습니다/);
    await context.close();
  } finally {
    await authed.stop();
  }
  const { page, context } = await openPage(browser, server.url, { locale: "ko-KR", extraHTTPHeaders: { "Accept-Language": "ko-KR,ko;q=0.9" } });
  await sendPrompt(page, "줄 수도 세 주세요");
  const run = page.locator(".run").last();
  await run.locator(".step.tool-todowrite").first().waitFor({ timeout: 30000 });
  assert.equal(await run.locator(".step.tool-todowrite .tdetail").first().textContent(), "할 일 3개");
  await page.locator(".run.done").last().waitFor({ timeout: 30000 });
  assert.doesNotMatch(await run.textContent(), /items|turns/);
  await context.close();
});

test("5: an earlier session's log opens read-only from the sessions sheet; the confirm says what happens", { timeout: 90000 }, async (t) => {
  // A server of its own: the log's first prompt is this test's.
  const fresh = await ownServer(t);
  const { page, context } = await openPage(browser, fresh.url);
  await sendPrompt(page, "@quick an earlier question");
  await until(page, () => [...document.querySelectorAll(".msg.claude .bubble")].some((b) => b.textContent.includes("Quick answer.")));
  let confirmText = "";
  page.once("dialog", (d) => {
    confirmText = d.message();
    d.accept();
  });
  await page.locator("#new-session").click();
  await page.locator(".msg.system", { hasText: /New session|new session/ }).last().waitFor();
  assert.match(confirmText, /Earlier conversations here/, confirmText);
  assert.doesNotMatch(confirmText, /stays on screen/);
  await page.reload();
  await until(page, () => window.homeclaude && window.homeclaude.connected);
  assert.equal(await page.locator(".msg.user", { hasText: "an earlier question" }).count(), 0, "the new session starts empty");
  await page.locator("#menu-btn").click();
  await page.locator("#act-logs").click();
  const item = page.locator("#log-list li", { hasText: "an earlier question" }).first();
  await item.waitFor();
  await item.locator("button").click();
  const view = page.locator("#log-view");
  await view.locator(".msg.user", { hasText: "an earlier question" }).waitFor();
  await view.locator(".msg.claude", { hasText: "Quick answer." }).waitFor();
  assert.equal(await view.locator("textarea, .cancel").count(), 0, "read-only");
  await page.locator("#log-view-close").click();
  await view.waitFor({ state: "hidden" });
  await context.close();
});

test("6: touch targets are at least 44 px: Copy, Scroll to the latest, language, tool rows", { timeout: 90000 }, async () => {
  const { page, context } = await openPage(browser, server.url, PHONE);
  await tapSend(page, "Count lines too, please");
  await page.locator(".run.done").last().waitFor({ timeout: 30000 });
  await page.locator(".msg.claude .copy-btn").first().waitFor();
  const sizes = {};
  sizes.copy = await page.locator(".msg.claude .copy-btn").first().boundingBox();
  sizes.row = await page.locator(".step.tool > summary").first().boundingBox();
  // Scroll up as a user does (a script's scroll is not the user's).
  await page.locator("#scroller").hover();
  await page.mouse.wheel(0, -3000);
  await page.locator("#jump").waitFor();
  sizes.jump = await page.locator("#jump").boundingBox();
  await page.locator("#menu-btn").click();
  sizes.lang = await page.locator("#opt-lang").boundingBox();
  for (const [name, box] of Object.entries(sizes)) {
    assert.ok(box.height >= 44 && box.width >= 44, `${name} is ${box.width}x${box.height}`);
  }
  await context.close();
});

test("7: with the network off the page says so, and the prompt waits with a reason", { timeout: 60000 }, async () => {
  const { page, context } = await openPage(browser, server.url, PHONE);
  await context.setOffline(true);
  await until(page, () => document.getElementById("conn-text").textContent === "Offline");
  await page.locator("#banner", { hasText: /no network/i }).waitFor();
  await page.locator("#prompt").fill("sent while offline");
  await page.locator("#send").tap();
  const bubble = page.locator("#pending .msg", { hasText: "sent while offline" });
  await bubble.waitFor();
  assert.match(await bubble.locator(".state").textContent(), /no network/i);
  await context.setOffline(false);
  await page.locator(".msg.user.delivered", { hasText: "sent while offline" }).waitFor({ timeout: 30000 });
  await context.close();
});

test("8: '1 turn', costs without four decimals and in won, Stop marks unfinished tools, resume only when over", { timeout: 90000 }, async () => {
  const usageServer = await startServer({ usage: { calls: 3, costUSD: 0.001, minutes: 30 } });
  try {
    const { page, context } = await openPage(browser, usageServer.url);
    await page.locator("#u-today").waitFor();
    assert.doesNotMatch(await page.locator("#u-today").textContent(), /\d\.\d{3}/);
    await sendPrompt(page, "@quick one turn");
    await page.locator(".run.done").last().waitFor();
    const stats = await page.locator(".run .stats").last().textContent();
    assert.match(stats, /· 1 turn$/);
    assert.doesNotMatch(stats, /\d\.\d{3}/);
    // Korean: the amounts in won.
    await page.locator("#menu-btn").click();
    await page.locator("#opt-lang").selectOption("ko");
    await page.locator("#menu-close").click();
    assert.match(await page.locator("#u-today").textContent(), /₩/);
    assert.match(await page.locator(".run .stats").last().textContent(), /₩/);
    await page.locator("#menu-btn").click();
    await page.locator("#opt-lang").selectOption("en");
    await page.locator("#menu-close").click();

    await sendPrompt(page, "@stuck stop me");
    const run = page.locator(".run").last();
    await run.locator(".step.tool-bash.active").waitFor();
    await run.locator(".resume").waitFor({ state: "attached" }).catch(() => {});
    assert.equal(await run.locator(".resume").isVisible(), false, "no 'Continue in a terminal' while running");
    await page.locator("#stop").click();
    await page.locator(".run.stopped").last().waitFor();
    assert.match(await run.locator(".step.tool-bash .tstate").textContent(), /stopped/i);
    assert.equal(await run.locator(".resume").isVisible(), true, "once over, how to go on in a terminal");
    await context.close();
  } finally {
    await usageServer.stop();
  }
});

test("9: on a desktop the header lines up with the 860 px column", { timeout: 60000 }, async () => {
  const { page, context } = await openPage(browser, server.url, { viewport: { width: 1280, height: 800 } });
  const dot = await page.locator("#dot").boundingBox();
  const menu = await page.locator("#new-session").boundingBox();
  const log = await page.locator("#log").boundingBox();
  assert.ok(dot.x >= log.x - 1, `the header starts at ${dot.x}, the column at ${log.x}`);
  assert.ok(menu.x + menu.width <= log.x + log.width + 1, `the header ends at ${menu.x + menu.width}, the column at ${log.x + log.width}`);
  await context.close();
});
