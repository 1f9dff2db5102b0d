// Several people (issue 18): the owner invites a collaborator from the settings
// sheet (link and QR code), each page sees the other in presence, prompts carry
// the sender's name, and revoking from the sheet closes the collaborator's page.
// Two browser contexts at phone size; screenshots in target/e2e-screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { launchBrowser, startServer, openPage, until, root } from "./lib.mjs";

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const shots = path.join(process.env.CARGO_TARGET_DIR || path.join(root, "target"), "e2e-screenshots");

let browser;
let server;
before(async () => {
  mkdirSync(shots, { recursive: true });
  browser = await launchBrowser();
  server = await startServer({ auth: true, args: ["--owner-name", "Dana Kim"] });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const avatars = (page) => page.locator("#people .avatar").evaluateAll((n) => n.map((a) => a.textContent));
const listed = (page) => page.locator("#people-list .person-name").evaluateAll((n) => n.map((a) => a.firstChild.textContent));

test("owner and collaborator see each other; names, roles and revocation", { timeout: 90000 }, async () => {
  const owner = await openPage(browser, server.loginUrl, PHONE);
  await until(owner.page, () => document.querySelectorAll("#people .avatar").length === 1);
  assert.deepEqual(await avatars(owner.page), ["DK"]);

  // The owner invites Ann from the sheet: the link once, with its QR code.
  await owner.page.locator("#menu-btn").click();
  await owner.page.locator("#invite-name").fill("Ann Lee");
  await owner.page.locator("#invite-role").selectOption("collaborator");
  await owner.page.locator("#invite-form button[type=submit]").click();
  const link = await owner.page.locator(".invite-link").inputValue();
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/login\?token=[0-9a-f]{64}$/);
  const modules = await owner.page.locator("svg.qr path.qr-fg").getAttribute("d");
  assert.ok(modules && modules.split("M").length > 200, "the QR code has its modules");
  await owner.page.locator("#invite-list .invite", { hasText: "Ann Lee" }).waitFor();
  await owner.page.locator("#invite-made").scrollIntoViewIfNeeded();
  await owner.page.screenshot({ path: path.join(shots, "people-owner-invite.png") });
  await owner.page.locator("#menu-close").click();

  // Ann opens the link in her own browser.
  const ann = await openPage(browser, link, PHONE);
  await until(ann.page, () => document.querySelectorAll("#people .avatar").length === 2);
  assert.deepEqual(await avatars(ann.page), ["DK", "AL"]);
  await until(owner.page, () => document.querySelectorAll("#people .avatar").length === 2);
  assert.deepEqual(await avatars(owner.page), ["DK", "AL"]);
  assert.equal(await ann.page.evaluate(() => document.documentElement.dataset.role), "collaborator");
  // What a collaborator may not do is not offered.
  assert.equal(await ann.page.locator("#new-session").isHidden(), true);
  assert.equal(await ann.page.locator("#invite-box").isHidden(), true);
  assert.equal(await ann.page.locator("#menu .seg-btn").first().isDisabled(), true);

  // Her prompt carries her name for the owner, "You" for her.
  // On a phone Enter is a new line: the send button sends.
  await ann.page.locator("#prompt").fill("@quick from Ann");
  await ann.page.locator("#send").click();
  await owner.page.locator(".msg.user", { hasText: "from Ann" }).waitFor();
  assert.match(await owner.page.locator(".msg.user", { hasText: "from Ann" }).locator(".meta").textContent(), /Ann Lee/);
  assert.match(await ann.page.locator(".msg.user", { hasText: "from Ann" }).locator(".meta").textContent(), /You/);
  await ann.page.locator(".msg.claude", { hasText: "Quick answer." }).waitFor();
  await ann.page.screenshot({ path: path.join(shots, "people-collaborator.png") });

  // Both lists in the sheet, in Korean too.
  await ann.page.locator("#menu-btn").click();
  assert.deepEqual(await listed(ann.page), ["Dana Kim", "Ann Lee"]);
  await ann.page.locator("#opt-lang").selectOption("ko");
  assert.match(await ann.page.locator("#people-count").textContent(), /접속 중: 2명/);
  await ann.page.screenshot({ path: path.join(shots, "people-collaborator-sheet-ko.png") });
  await ann.page.locator("#opt-lang").selectOption("en");
  await ann.page.locator("#menu-close").click();

  // The owner revokes her from the sheet; her page says so and stops.
  await owner.page.locator("#menu-btn").click();
  owner.page.once("dialog", (d) => d.accept());
  await owner.page.locator("#invite-list .invite", { hasText: "Ann Lee" }).locator("button").click();
  await owner.page.locator("#invite-list .invite", { hasText: "Ann Lee" }).waitFor({ state: "detached" });
  assert.equal(await owner.page.locator(".invite-link").count(), 0, "the link is forgotten");
  await ann.page.locator("#banner-text", { hasText: "revoked" }).waitFor({ timeout: 5000 });
  await until(owner.page, () => document.querySelectorAll("#people .avatar").length === 1);
  await owner.page.screenshot({ path: path.join(shots, "people-owner-after-revoke.png") });
  await ann.page.screenshot({ path: path.join(shots, "people-collaborator-revoked.png") });

  assert.deepEqual(owner.problems, []);
  assert.deepEqual(ann.problems, []);
  await owner.context.close();
  await ann.context.close();
});
