// A dashboard of boxes (--boxes): the settings sheet lists the other box with its
// state, polled by the server (the page only asks its own server), and sees it go
// offline when it stops.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchBrowser, startServer, openPage, until } from "./lib.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test("the settings sheet lists another box, its state, and a way to open it", { timeout: 120000 }, async () => {
  const far = await startServer();
  const dir = mkdtempSync(path.join(tmpdir(), "homeclaude-boxes-"));
  const file = path.join(dir, "boxes.json");
  // The far box runs without login here, so any token passes; the page must
  // never see it either way.
  const secret = "hca_" + "5".repeat(64);
  writeFileSync(file, JSON.stringify([{ name: "nas", url: far.url, token: secret }]), { mode: 0o600 });
  const near = await startServer({ args: ["--boxes", file] });
  let farStopped = false;
  try {
    await near.waitForLine(/boxes: nas is online/);
    const { page, problems, context } = await openPage(browser, near.url, { viewport: { width: 390, height: 844 } });
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.locator("#menu-btn").click();
    const nas = page.locator('#box-list li[data-box="nas"]');
    await nas.waitFor();
    await until(page, () => document.querySelector('#box-list li[data-box="nas"]').classList.contains("box-online"));
    assert.match(await nas.textContent(), /nas.*online · idle/);
    assert.equal(await nas.locator("a").getAttribute("href"), far.url);
    await nas.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(dir, "phone-boxes.png") });
    if (process.env.E2E_SHOTS) await page.screenshot({ path: process.env.E2E_SHOTS + "/phone-light-boxes.png" });
    const html = await page.content();
    assert.ok(!html.includes(secret), "the box's token never reaches the page");

    await far.stop();
    farStopped = true;
    await near.waitForLine(/boxes: nas is offline/, 40000);
    await until(page, () => document.querySelector('#box-list li[data-box="nas"]').classList.contains("box-offline"), null, 40000);
    assert.match(await nas.textContent(), /offline/);
    // Every request the page made went to its own server.
    const own = new URL(near.url).origin;
    assert.ok(requests.every((u) => u.startsWith(own)), requests.join("\n"));
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await near.stop();
    if (!farStopped) await far.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
