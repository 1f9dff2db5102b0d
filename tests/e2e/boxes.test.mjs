// A dashboard of boxes (--boxes): the settings sheet lists the other box with its
// state, polled by the server (the page only asks its own server), and sees it go
// offline when it stops.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchBrowser, startServer, openPage, until, root } from "./lib.mjs";

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
    assert.equal(await nas.locator("a.box-own").getAttribute("href"), far.url);
    // No viewer token in the file: no live view, and the page says so.
    assert.equal(await nas.locator("a.box-view").count(), 0);
    assert.match(await nas.textContent(), /no live view here/);
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

test("opening a box shows its runs live, read-only, through the dashboard", { timeout: 120000 }, async () => {
  // The far box logs people in; the dashboard opens its /ws with its viewer token.
  const far = await startServer({ auth: true });
  const dir = mkdtempSync(path.join(tmpdir(), "homeclaude-boxes-"));
  const file = path.join(dir, "boxes.json");
  const secret = "hca_" + "6".repeat(64);
  writeFileSync(file, JSON.stringify([{ name: "nas", url: far.url, token: secret, viewer_token: far.tokens.viewer }]), { mode: 0o600 });
  const near = await startServer({ args: ["--boxes", file] });
  try {
    const { page, problems, context } = await openPage(browser, near.url, { viewport: { width: 390, height: 844 } });
    await page.locator("#menu-btn").click();
    const view = page.locator('#box-list li[data-box="nas"] a.box-view');
    await view.waitFor();
    assert.equal(await view.getAttribute("href"), "/?box=nas");
    const shots = path.join(process.env.CARGO_TARGET_DIR || path.join(root, "target"), "e2e-screenshots");
    mkdirSync(shots, { recursive: true });
    await view.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, "phone-box-list.png") });
    await view.click();
    await page.waitForURL(/\/\?box=nas$/);
    await page.locator("#box-banner").waitFor();
    assert.equal(await page.locator("#box-banner-text").textContent(), "Viewing box nas (read-only)");
    assert.equal(await page.locator("#box-own").getAttribute("href"), far.url);
    assert.equal(await page.locator("#composer").isHidden(), true, "nothing to send from a live view");
    await until(page, () => window.homeclaude.connected);
    await near.waitForLine(/box-relay .*viewing box nas/);

    // A prompt run on the far box (by its owner, through its API) appears here live.
    const posted = await fetch(far.url + "/api/prompts", {
      method: "POST",
      headers: { Authorization: "Bearer " + far.tokens.owner, "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: "@quick seen from the dashboard" }),
    });
    assert.equal(posted.status, 202);
    await page.locator(".msg.user", { hasText: "seen from the dashboard" }).waitFor();
    await page.locator(".msg.claude", { hasText: "Quick answer." }).waitFor();
    await until(page, () => !document.querySelector(".msg.claude.streaming"));
    await page.screenshot({ path: path.join(shots, "phone-box-live.png") });
    if (process.env.E2E_SHOTS) await page.screenshot({ path: process.env.E2E_SHOTS + "/phone-light-box-live.png" });
    const html = await page.content();
    assert.ok(!html.includes(far.tokens.viewer) && !html.includes(secret), "no token of the box reaches the page");

    // In Korean too (the language the page was set to).
    await context.addCookies([{ name: "hc_lang", value: "ko", url: near.url }]);
    await page.reload();
    await until(page, () => window.homeclaude.connected);
    assert.equal(await page.locator("#box-banner-text").textContent(), "박스 nas 보는 중 (읽기 전용)");
    assert.equal(await page.locator("#box-back").textContent(), "돌아가기");
    await page.screenshot({ path: path.join(shots, "phone-box-live-ko.png") });

    // The box goes away: the page says why.
    await far.stop();
    await page.locator(".msg.system", { hasText: "박스 nas의 실시간 보기가 끊겼습니다" }).waitFor();
    await page.screenshot({ path: path.join(shots, "phone-box-live-ended-ko.png") });
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await near.stop();
    await far.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
