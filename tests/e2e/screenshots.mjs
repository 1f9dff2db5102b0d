// Makes the screenshots in docs/screenshots/: a phone (390x844) and a desktop
// (1280x800), light and dark, showing a real conversation with the fake claude:
//   *-run.png      a finished run: tool rows, the Edit diff, the to-do list, stats,
//                  and the start of the answer
//   *-answer.png   the answer (markdown, code blocks with copy buttons)
//   *-working.png  a run in progress with two prompts waiting (Stop, queue panel)
//   phone-light-settings.png, phone-dark-offline.png (the outbox and the banner)
// Every page is open before the prompts are sent, so bubbles carry live times.
// Usage: cargo build && node tests/e2e/screenshots.mjs
import { mkdirSync } from "node:fs";
import path from "node:path";
import { launchBrowser, startServer, until, root, fixtures, sendPrompt } from "./lib.mjs";

const out = path.join(root, "docs", "screenshots");
mkdirSync(out, { recursive: true });
const shapes = [
  ["phone", { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 }],
  ["desktop", { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 }],
];

// Opens one page per shape and theme (before anything is sent, so bubbles carry
// live times) and returns them with the desktop-light one as the driver.
async function openAll(browser, server) {
  const pages = [];
  for (const [shape, options] of shapes) {
    for (const scheme of ["light", "dark"]) {
      const context = await browser.newContext({ ...options, colorScheme: scheme, locale: "en-US" });
      const page = await context.newPage();
      await page.goto(server.url);
      await until(page, () => window.homeclaude && window.homeclaude.connected);
      await page.locator("#usage").waitFor();
      pages.push({ name: `${shape}-${scheme}`, page, context });
    }
  }
  return { pages, driver: pages.find((p) => p.name === "desktop-light").page };
}

async function scrollTo(page, where) {
  await page.evaluate((where) => {
    const s = document.getElementById("scroller");
    s.scrollTop = where === "bottom" ? s.scrollHeight : document.querySelector(where).offsetTop - s.offsetTop - 8;
  }, where);
  await page.waitForTimeout(200); // let the scroll paint: a screenshot, not a wait for state
}

const browser = await launchBrowser();
const usage = { calls: 9, costUSD: 0.55, minutes: 160 };
const done = await startServer({ env: { FAKE_CLAUDE_DELAY_MS: "15" }, usage });
// The long job is the default here, so the prompts read as a person would type them.
const busy = await startServer({ env: { FAKE_CLAUDE_TRANSCRIPT: path.join(fixtures, "slow.jsonl") }, usage });
try {
  // A finished run and its answer.
  const a = await openAll(browser, done);
  await sendPrompt(a.driver, "Add a --lines flag to wordcount so it can count lines instead of words, and make sure the tests pass.");
  for (const { page } of a.pages) {
    await page.locator(".run.done").waitFor({ timeout: 30000 });
    await page.locator(".msg.claude .bubble.md").waitFor();
  }
  for (const { name, page } of a.pages) {
    await page.locator(".run .step.tool-edit > summary").click();
    await page.locator(".run .step.tool-edit .diff").waitFor();
    await scrollTo(page, ".run");
    await page.screenshot({ path: path.join(out, `${name}-run.png`) });
    await scrollTo(page, "bottom");
    await page.locator("#jump").waitFor({ state: "hidden" });
    await page.screenshot({ path: path.join(out, `${name}-answer.png`) });
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
    await page.screenshot({ path: path.join(out, `${name}-working.png`) });
  }
  // The settings sheet, and the page offline with a prompt waiting in its outbox.
  const phoneLight = b.pages.find((p) => p.name === "phone-light").page;
  await phoneLight.locator("#menu-btn").click();
  await phoneLight.locator("#menu[open]").waitFor();
  await phoneLight.waitForTimeout(200);
  await phoneLight.screenshot({ path: path.join(out, "phone-light-settings.png") });
  await busy.stop();
  const phoneDark = b.pages.find((p) => p.name === "phone-dark").page;
  await phoneDark.locator("#banner").waitFor();
  await phoneDark.locator("#prompt").fill("Also add a --chars flag");
  await phoneDark.locator("#send").tap();
  await phoneDark.locator("#pending .msg.pending").waitFor();
  await scrollTo(phoneDark, "bottom");
  await phoneDark.screenshot({ path: path.join(out, "phone-dark-offline.png") });
  console.log("screenshots written to", out);
} finally {
  await browser.close();
  await done.stop();
  await busy.stop();
}
