// Claude's answer is markdown rendered on the server: HTML in it is text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withBrowserAndServer, openPage, sendPrompt } from "./lib.mjs";

const env = withBrowserAndServer();

test("markdown with <script> in it is shown as text and never runs", { timeout: 60000 }, async () => {
  const { page, problems, context } = await openPage(env.browser, env.server.url);
  await sendPrompt(page, "@markdown show me the snippet");
  const answer = page.locator(".msg.claude:not(.streaming) .bubble.md");
  await answer.waitFor({ timeout: 30000 });
  const text = await answer.textContent();
  assert.ok(text.includes("<script>window.__pwned = 1</script>"), text);
  assert.ok(text.includes('<img src=x onerror="window.__pwned = 2">'), text);
  assert.equal(await answer.locator("script, img, iframe, [onerror], [onclick]").count(), 0);
  // The javascript: link is plain text; the web link opens outside the page.
  assert.equal(await answer.locator('a[href^="javascript"]').count(), 0);
  assert.ok(text.includes("click me"));
  const docs = answer.locator("a", { hasText: "docs" });
  assert.equal(await docs.getAttribute("href"), "https://example.com/docs");
  assert.equal(await docs.getAttribute("target"), "_blank");
  assert.equal(await docs.getAttribute("rel"), "noopener noreferrer");
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  // The prompt bubble is text too.
  await sendPrompt(page, "<b>not bold</b> @quick");
  const mine = page.locator(".msg.user", { hasText: "<b>not bold</b>" });
  await mine.waitFor();
  assert.equal(await mine.locator("b", { hasText: "not bold" }).count(), 0);
  assert.deepEqual(problems, []);
  await context.close();
});
