// Makes the screenshots in docs/screenshots/: a phone (390x844) light, dark and in
// Korean, and a desktop (1280x800) light and dark, of a real conversation with the
// fake claude:
//   *-empty.png     the empty chat
//   *-working.png   a run mid-way, two prompts waiting (Stop, queue, time and step)
//   *-run.png       a finished run: tool rows, the Edit diff, the to-do list, stats
//   *-answer.png    the answer (markdown, code blocks with copy buttons)
//   *-usage.png     the usage details (tap on the header's usage)
//   *-sessions.png  the settings sheet with this server's earlier conversations
// Every page is open before the prompts are sent, so bubbles carry live times.
// Usage: cargo build && node tests/e2e/screenshots.mjs
import { mkdirSync } from "node:fs";
import path from "node:path";
import { launchBrowser, startServer, until, root, fixtures, sendPrompt } from "./lib.mjs";

const out = path.join(root, "docs", "screenshots");
mkdirSync(out, { recursive: true });
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 };
const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 };
const variants = [
  ["phone-light", PHONE, "light", "en-US"],
  ["phone-dark", PHONE, "dark", "en-US"],
  ["phone-ko", PHONE, "light", "ko-KR"],
  ["desktop-light", DESKTOP, "light", "en-US"],
  ["desktop-dark", DESKTOP, "dark", "en-US"],
];

// Opens one page per variant (before anything is sent, so bubbles carry live
// times) and returns them with the desktop-light one as the driver.
async function openAll(browser, server) {
  const pages = [];
  for (const [name, options, scheme, locale] of variants) {
    const context = await browser.newContext({
      ...options, colorScheme: scheme, locale,
      extraHTTPHeaders: { "Accept-Language": locale === "ko-KR" ? "ko-KR,ko;q=0.9" : "en-US,en;q=0.9" },
    });
    const page = await context.newPage();
    await page.goto(server.url);
    await until(page, () => window.homeclaude && window.homeclaude.connected);
    await page.locator("#usage").waitFor();
    pages.push({ name, page, context });
  }
  return { pages, driver: pages.find((p) => p.name === "desktop-light").page };
}

async function scrollTo(page, where) {
  await page.evaluate((where) => {
    const s = document.getElementById("scroller");
    s.scrollTop = where === "bottom" ? s.scrollHeight : document.querySelector(where).offsetTop - s.offsetTop - 8;
  }, where);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}
const shot = (page, name, what) => page.screenshot({ path: path.join(out, `${name}-${what}.png`) });

const browser = await launchBrowser();
const usage = { calls: 9, costUSD: 0.55, minutes: 160 };
const done = await startServer({ env: { FAKE_CLAUDE_DELAY_MS: "15" }, usage });
// The long job is the default here, so the prompts read as a person would type them.
const busy = await startServer({ env: { FAKE_CLAUDE_TRANSCRIPT: path.join(fixtures, "slow.jsonl") }, usage });
try {
  // The empty chat, then a finished run and its answer.
  const a = await openAll(browser, done);
  for (const { name, page } of a.pages) await shot(page, name, "empty");
  await sendPrompt(a.driver, "Add a --lines flag to wordcount so it can count lines instead of words, and make sure the tests pass.");
  for (const { page } of a.pages) {
    await page.locator(".run.done").waitFor({ timeout: 30000 });
    await page.locator(".msg.claude .bubble.md").waitFor();
  }
  for (const { name, page } of a.pages) {
    await page.locator(".run .step.tool-edit > summary").click();
    await page.locator(".run .step.tool-edit .diff").waitFor();
    await scrollTo(page, ".run");
    await shot(page, name, "run");
    await scrollTo(page, "bottom");
    await page.locator("#jump").waitFor({ state: "hidden" });
    await shot(page, name, "answer");
    // The usage details.
    await page.locator("#usage").click();
    await page.locator("#usage-sheet[open] dl").first().waitFor();
    await shot(page, name, "usage");
    await page.locator("#usage-close").click();
    // The settings sheet with the conversations this server kept.
    await page.locator("#menu-btn").click();
    await page.locator("#act-logs").click();
    await page.locator("#log-list .session-item").first().waitFor();
    await shot(page, name, "sessions");
    await page.locator("#menu-close").click();
  }

  // A run in progress with two prompts waiting behind it.
  const b = await openAll(browser, busy);
  await sendPrompt(b.driver, "Run the whole benchmark suite on the Pi and report the numbers.");
  await b.driver.locator(".run.running").waitFor();
  await sendPrompt(b.driver, "Then update the changelog for 0.2.0");
  await sendPrompt(b.driver, "Bump the version to 0.2.0");
  for (const { page } of b.pages) {
    await page.locator(".msg.claude.streaming", { hasText: "Still waiting" }).waitFor({ timeout: 30000 });
    await until(page, () => document.querySelectorAll("#queue-list li").length === 2);
  }
  for (const { name, page } of b.pages) {
    await scrollTo(page, "bottom");
    await shot(page, name, "working");
  }
  // The page offline with a prompt waiting in its outbox.
  await busy.stop();
  const phoneDark = b.pages.find((p) => p.name === "phone-dark").page;
  await phoneDark.locator("#banner").waitFor();
  await phoneDark.locator("#prompt").fill("Also add a --chars flag");
  await phoneDark.locator("#send").tap();
  await phoneDark.locator("#pending .msg.pending").waitFor();
  await scrollTo(phoneDark, "bottom");
  await shot(phoneDark, "phone-dark", "offline");
  console.log("screenshots written to", out);
} finally {
  await browser.close();
  await done.stop();
  await busy.stop();
}
