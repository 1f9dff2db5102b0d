// Screenshots of the approval cards in docs/screenshots/, at phone size (390x844),
// light, dark and Korean: phone-{light,dark,ko}-approval-{bash,write,question,plan}.png,
// and phone-light-approval-answered.png (the cards with their outcomes). Real flows:
// the server and the fake CLI asking (approval-scenarios.mjs).
// Korean needs a Korean font (Debian: fonts-nanum or fonts-noto-cjk).
// Usage: cargo build && node tests/e2e/screenshots-approvals.mjs
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchBrowser, startServer, until, root } from "./lib.mjs";
import { shots, transcript } from "./approval-scenarios.mjs";

const out = path.join(root, "docs", "screenshots");
mkdirSync(out, { recursive: true });
const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 };
const looks = [
  ["light", { colorScheme: "light", locale: "en-US" }],
  ["dark", { colorScheme: "dark", locale: "en-US" }],
  ["ko", { colorScheme: "light", locale: "ko-KR" }],
];

const browser = await launchBrowser();
const dir = mkdtempSync(path.join(tmpdir(), "homeclaude-shots-"));
let answeredPage = null;
try {
  for (const [name, shot] of Object.entries(shots)) {
    const file = path.join(dir, name + ".jsonl");
    writeFileSync(file, transcript(shot.lines));
    const server = await startServer({ env: { FAKE_CLAUDE_TRANSCRIPT: file, FAKE_CLAUDE_DELAY_MS: "10" } });
    try {
      const pages = [];
      for (const [look, options] of looks) {
        const context = await browser.newContext({ ...phone, ...options });
        const page = await context.newPage();
        await page.goto(server.url);
        await until(page, () => window.homeclaude && window.homeclaude.connected);
        pages.push({ look, page, context });
      }
      const driver = pages[0].page;
      await driver.locator("#prompt").fill(shot.prompt);
      await driver.locator("#send").tap();
      for (const { look, page } of pages) {
        const card = page.locator(".approval.pending");
        await card.waitFor({ timeout: 30000 });
        // The prompt, the run's head and the card from the top, as far as it goes.
        await page.evaluate(() => {
          const s = document.getElementById("scroller");
          const user = document.querySelector(".msg.user");
          s.scrollTop = user.offsetTop - s.offsetTop - 8;
        });
        await page.waitForTimeout(250); // let the scroll paint: a screenshot, not a wait for state
        await page.screenshot({ path: path.join(out, `phone-${look}-approval-${name}.png`) });
      }
      // Answer, so the run ends; the Bash card also shows its outcome in one shot.
      const card = driver.locator(".approval.pending");
      if (name === "question") {
        await card.getByRole("button", { name: /^SQLite/ }).tap();
        await card.getByRole("button", { name: /^Metrics/ }).tap();
        await card.getByRole("button", { name: "Send answers" }).tap();
      } else if (name === "plan") {
        await card.getByRole("button", { name: "Approve plan" }).tap();
      } else if (name === "bash") {
        await card.locator(".ap-reason").fill("Not yet: I want to choose the branch name first");
        await card.getByRole("button", { name: "Deny", exact: true }).tap();
      } else {
        await card.getByRole("button", { name: "Allow", exact: true }).tap();
      }
      for (const { page } of pages) await page.locator(".approval.resolved").waitFor();
      if (name === "bash") {
        const light = pages[0].page;
        await light.locator(".run.done").waitFor({ timeout: 30000 });
        await light.evaluate(() => (document.getElementById("scroller").scrollTop = 0));
        await light.waitForTimeout(250);
        await light.screenshot({ path: path.join(out, "phone-light-approval-answered.png") });
      }
      for (const { context } of pages) await context.close();
    } finally {
      await server.stop();
    }
  }
  console.log("screenshots written to", out);
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
