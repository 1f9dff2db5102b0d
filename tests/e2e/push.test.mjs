// Web Push end to end: the server pushes to a loopback stand-in push service (which
// decrypts the aes128gcm body with the subscription key this test made, as a
// browser would), the payload is delivered to the page's service worker through
// CDP (ServiceWorker.deliverPushMessage), the notification it shows is read back
// (registration.getNotifications()), and a `notificationclick` with the Allow
// action answers the approval on the server with the notification's one-time token.
// Also: the settings sheet's notification parts at phone size, in both languages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import crypto from "node:crypto";
import path from "node:path";
import { launchBrowser, startServer, openPage, until, root } from "./lib.mjs";
import { scenarios, transcript } from "./approval-scenarios.mjs";

const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "en-US" };

let browser, server, scenarioDir, pushService;
const pushed = [];
let pushedWaiter = null;

// The subscription's keys, made here as a browser makes them.
const ua = crypto.createECDH("prime256v1");
ua.generateKeys();
const uaAuth = crypto.randomBytes(16);

/** RFC 8291 / RFC 8188 decryption: what the browser does with the body. */
function decrypt(body) {
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const shared = ua.computeSecret(asPublic);
  const info = Buffer.concat([Buffer.from("WebPush: info\0"), ua.getPublicKey(), asPublic]);
  const ikm = Buffer.from(crypto.hkdfSync("sha256", shared, uaAuth, info, 32));
  const cek = Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const sealed = body.subarray(21 + idlen);
  const d = crypto.createDecipheriv("aes-128-gcm", cek, nonce);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const plain = Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  assert.equal(plain[plain.length - 1], 2, "one last record");
  return plain.subarray(0, plain.length - 1).toString("utf8");
}

function nextPush(ms = 15000) {
  if (pushed.length) return Promise.resolve(pushed.shift());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no push arrived")), ms);
    pushedWaiter = (p) => {
      clearTimeout(timer);
      resolve(p);
    };
  });
}

before(async () => {
  scenarioDir = mkdtempSync(path.join(tmpdir(), "homeclaude-push-"));
  writeFileSync(path.join(scenarioDir, "bash.jsonl"), transcript(scenarios.bash));
  writeFileSync(path.join(scenarioDir, "deny.jsonl"), transcript(scenarios.deny));
  pushService = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(201).end();
      const got = { headers: req.headers, body: Buffer.concat(chunks) };
      if (pushedWaiter) {
        const w = pushedWaiter;
        pushedWaiter = null;
        w(got);
      } else pushed.push(got);
    });
  });
  await new Promise((resolve) => pushService.listen(0, "127.0.0.1", resolve));
  browser = await launchBrowser();
  server = await startServer({ auth: true, args: ["--notify", "always"], env: { FAKE_CLAUDE_TRANSCRIPT_DIR: scenarioDir } });
});
after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((resolve) => (pushService ? pushService.close(resolve) : resolve()));
  rmSync(scenarioDir, { recursive: true, force: true });
});

test("a push shows Allow / Deny, and Allow on the notification answers the approval", async () => {
  const { context, page, problems } = await openPage(browser, server.url + "/login?token=" + server.tokens.owner, { ...phone, permissions: ["notifications"] });
  const cdp = await context.newCDPSession(page);
  const registrations = [];
  cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => registrations.push(...e.registrations));
  await cdp.send("ServiceWorker.enable");
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  const reg = await until(page, () => true).then(async () => {
    for (let i = 0; i < 200 && !registrations.some((r) => r.scopeURL.endsWith("/") && !r.isDeleted); i++) await page.waitForTimeout(25);
    return registrations.find((r) => !r.isDeleted);
  });
  assert.ok(reg, "the page registered its service worker");

  // Subscribe this device, as the settings sheet does, with our keys and endpoint.
  const sub = {
    endpoint: `http://127.0.0.1:${pushService.address().port}/push/e2e`,
    keys: { p256dh: ua.getPublicKey().toString("base64url"), auth: uaAuth.toString("base64url") },
    events: ["done", "failed", "waiting"],
    lang: "en",
  };
  const status = await page.evaluate(async (s) => {
    const r = await fetch("/api/push/subscriptions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(s) });
    return r.status;
  }, sub);
  assert.equal(status, 201);
  await server.waitForLine(/push: subscribed/);

  await page.locator("#prompt").fill("@bash");
  await page.locator("#send").click();
  await page.locator('.approval[data-approval="req-1"]').waitFor();
  const got = await nextPush();
  assert.equal(got.headers["content-encoding"], "aes128gcm");
  assert.match(got.headers.authorization, /^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
  const payload = decrypt(got.body);
  assert.equal(JSON.parse(payload).approval.id, "req-1");

  // Chromium may drop a push that reaches a worker still starting up: deliver
  // again until it shows (the same tag replaces, so there is still one).
  const shown = await until(page, () => true).then(async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      await cdp.send("ServiceWorker.deliverPushMessage", { origin: server.url, registrationId: reg.registrationId, data: payload });
      for (let i = 0; i < 80; i++) {
        const list = await page.evaluate(() =>
          navigator.serviceWorker.ready
            .then((r) => r.getNotifications())
            .then((ns) => ns.map((n) => ({ title: n.title, body: n.body, tag: n.tag, actions: (n.actions || []).map((a) => a.action), data: n.data })))
        );
        if (list.length) return list;
        await page.waitForTimeout(25);
      }
    }
    return [];
  });
  assert.equal(shown.length, 1, "one notification");
  assert.equal(shown[0].title, "Claude asks to use Bash");
  assert.equal(shown[0].body, "touch approved.txt");
  assert.equal(shown[0].tag, "approval-req-1");
  assert.deepEqual(shown[0].actions, ["allow", "deny"]);
  assert.equal(shown[0].data.url, "/#approval-req-1");

  // Tap "Allow" on the notification: the worker POSTs the one-time token.
  const sw = context.serviceWorkers()[0] || (await context.waitForEvent("serviceworker"));
  await sw.evaluate(async () => {
    const [n] = await self.registration.getNotifications();
    self.dispatchEvent(new NotificationEvent("notificationclick", { notification: n, action: "allow" }));
  });
  await server.waitForLine(/approval req-1 resolved: allow by owner \(notification\)/);
  // The CLI got the answer and the run went on to its end, on the page too.
  await until(page, () => Array.from(document.querySelectorAll(".msg")).some((m) => m.textContent.includes("All done.")));
  const notices = await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.length));
  assert.equal(notices, 0, "the notification closed itself");
  assert.deepEqual(problems, []);
  await context.close();
});

test("the settings sheet shows the notification settings in both languages", async () => {
  for (const lang of ["en", "ko"]) {
    const { context, page, problems } = await openPage(browser, server.url + "/login?token=" + server.tokens.owner, { ...phone, locale: lang === "ko" ? "ko-KR" : "en-US" });
    await page.locator("#menu-btn").click();
    await page.locator("#push-settings").scrollIntoViewIfNeeded();
    await until(page, () => document.getElementById("push-status").textContent.length > 0);
    const status = await page.locator("#push-status").textContent();
    if (lang === "en") {
      assert.match(status, /only while no page of yours is open|notifies always/);
      assert.match(status, /--public-url is not set/);
      assert.equal(await page.locator("#act-push-test").textContent(), "Send a test notification");
    } else {
      assert.match(status, /--public-url/);
      assert.equal(await page.locator("#act-push-test").textContent(), "테스트 알림 보내기");
    }
    await page.screenshot({ path: path.join(root, "target", `push-settings-${lang}.png`) });
    assert.deepEqual(problems, []);
    await context.close();
  }
});

test("spoken notices: one sentence at a time, in the page's language", async () => {
  const { context, page, problems } = await openPage(browser, server.url + "/login?token=" + server.tokens.owner, phone);
  // Record what would be spoken; the stand-in ends each utterance when told.
  await page.evaluate(() => {
    window.__spoken = [];
    window.__current = null;
    speechSynthesis.speak = (u) => {
      window.__spoken.push({ text: u.text, lang: u.lang, overlapping: !!window.__current });
      window.__current = u;
    };
    window.__end = () => {
      const u = window.__current;
      window.__current = null;
      if (u && u.onend) u.onend();
    };
  });
  await page.locator("#menu-btn").click();
  await page.locator("#opt-speak").check();
  await page.locator("#menu-close").click();
  await until(page, () => window.__spoken.length === 1);
  await page.locator("#prompt").fill("@deny");
  await page.locator("#send").click();
  // The new request is on the page (it waits), while the first sentence is
  // still being spoken: the second must wait for it.
  await until(page, () => document.body.classList.contains("waiting"));
  assert.equal(await page.evaluate(() => window.__spoken.length), 1);
  await page.evaluate(() => window.__end());
  await until(page, () => window.__spoken.length === 2);
  const spoken = await page.evaluate(() => window.__spoken);
  assert.equal(spoken[1].text, "Claude asks to run a command");
  assert.equal(spoken[1].lang, "en-US");
  assert.ok(spoken.every((s) => !s.overlapping), "never two at once");
  assert.deepEqual(problems, []);
  await context.close();
});
