// The page as an app: login and logout, the read-only viewer, the PWA shell
// (manifest, service worker, offline start), settings, language.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { launchBrowser, startServer, startProxy, openPage, until, watchPage, binary } from "./lib.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test("with login on: the page needs a session, and says so when it ends", { timeout: 60000 }, async () => {
  const server = await startServer({ auth: true });
  const proxy = await startProxy(server.port);
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);
    await page.goto(proxy.url + "/");
    assert.match(page.url(), /\/login$/, "without a session / goes to /login");
    await page.goto(proxy.url + "/login?token=" + encodeURIComponent(server.tokens.owner));
    assert.equal(new URL(page.url()).pathname, "/");
    await until(page, () => window.homeclaude && window.homeclaude.connected);
    assert.equal(await page.locator("#composer").isVisible(), true);

    // The session ends (logged out elsewhere, tokens rotated): the next upgrade is
    // refused with 401, which the page turns into a sign-in prompt, not a retry loop.
    await context.clearCookies();
    proxy.cut();
    await page.locator("#banner.bad").waitFor({ timeout: 30000 });
    assert.match(await page.locator("#banner-text").textContent(), /session has ended/);
    await page.locator("#banner-action").click();
    await page.waitForURL(/\/login/);
    assert.deepEqual(problems.filter((p) => !/401|Unauthorized/.test(p)), []);
    await context.close();
  } finally {
    await proxy.close();
    await server.stop();
  }
});

test("the login forms log in: password (wrong, then right) and a pasted token", { timeout: 60000 }, async () => {
  const made = spawnSync(binary, ["hash-password"], { input: "correct horse battery staple\n", encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  const server = await startServer({ auth: true, env: { HOMECLAUDE_PASSWORD_HASH: made.stdout.trim() } });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);
    // Typed and submitted as a person would: a real form POST, with whatever
    // Origin and Referer the browser chooses to send under the page's policy.
    await page.goto(server.url + "/login");
    await page.locator("input[name=password]").fill("wrong horse");
    await page.locator("input[name=password]").press("Enter");
    await page.locator(".error").waitFor();
    assert.match(await page.locator(".error").textContent(), /password is not right/);
    await page.locator("input[name=password]").fill("correct horse battery staple");
    await page.locator("input[name=password]").press("Enter");
    await page.waitForURL((url) => url.pathname === "/");
    await until(page, () => window.homeclaude && window.homeclaude.connected);

    // Logged out, the token form (behind "or paste the token") works too.
    await context.clearCookies();
    await page.goto(server.url + "/login");
    await page.locator("details summary").click();
    await page.locator("input[name=token]").fill(server.tokens.owner);
    await page.locator("input[name=token]").press("Enter");
    await page.waitForURL((url) => url.pathname === "/");
    await until(page, () => window.homeclaude && window.homeclaude.connected);
    assert.deepEqual(problems.filter((p) => !/401|Unauthorized/.test(p)), []);
    await context.close();
  } finally {
    await server.stop();
  }
});

test("a read-only viewer watches without a composer", { timeout: 60000 }, async () => {
  const server = await startServer({ auth: true });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);
    await page.goto(server.url + "/login?token=" + encodeURIComponent(server.tokens.viewer));
    await until(page, () => window.homeclaude && window.homeclaude.connected);
    assert.equal(await page.locator("html").getAttribute("data-role"), "viewer");
    assert.equal(await page.locator("#composer").isHidden(), true);
    assert.equal(await page.locator("#new-session").isHidden(), true);
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await server.stop();
  }
});

test("PWA: manifest, icons and service worker; the shell opens with the server down", { timeout: 60000 }, async () => {
  const server = await startServer();
  try {
    const manifest = await (await fetch(server.url + "/manifest.webmanifest")).json();
    assert.equal(manifest.start_url, "/");
    assert.equal(manifest.display, "standalone");
    assert.deepEqual(manifest.icons.map((i) => i.sizes), ["any", "192x192", "512x512", "512x512"]);
    assert.equal(manifest.shortcuts[0].url, "/?new=1");
    for (const icon of manifest.icons) {
      const r = await fetch(server.url + icon.src);
      assert.equal(r.status, 200, icon.src);
      assert.equal(r.headers.get("content-type"), icon.type);
    }
    const sw = await fetch(server.url + "/sw.js");
    assert.equal(sw.status, 200);
    assert.match(sw.headers.get("content-type"), /javascript/);
    assert.equal(sw.headers.get("cache-control"), "no-cache");

    const { page, problems, context } = await openPage(browser, server.url);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    // Reload once so the worker controls the page and has seen the versioned files.
    await page.reload();
    await until(page, () => navigator.serviceWorker.controller !== null);
    await until(page, () => window.homeclaude && window.homeclaude.connected);
    const cached = await page.evaluate(async () => {
      const keys = await (await caches.open("homeclaude-shell-1")).keys();
      return keys.map((k) => new URL(k.url).pathname).sort();
    });
    assert.ok(cached.includes("/") && cached.includes("/static/app.js") && cached.includes("/static/app.css"), cached.join(" "));
    assert.ok(!cached.some((p) => p.startsWith("/ws") || p.startsWith("/healthz")), cached.join(" "));

    await server.stop();
    await page.reload();
    await page.locator("#composer").waitFor();
    await until(page, () => document.getElementById("dot").classList.contains("offline") || document.getElementById("dot").classList.contains("connecting"));
    assert.equal(await page.title(), "homeclaude");
    assert.deepEqual(problems.filter((p) => !/ERR_CONNECTION_REFUSED|Failed to fetch|net::/.test(p)), []);
    await context.close();
  } finally {
    await server.stop();
  }
});

test("the New conversation shortcut starts a new session once; settings and language stick", { timeout: 60000 }, async () => {
  const server = await startServer();
  try {
    const context = await browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const problems = watchPage(page);
    await page.goto(server.url + "/?new=1");
    await until(page, () => window.homeclaude && window.homeclaude.connected);
    await page.locator(".msg.system", { hasText: /new session/i }).waitFor();
    assert.equal(new URL(page.url()).search, "", "the shortcut's ?new=1 is dropped so a reload does not clear again");
    await page.reload();
    await until(page, () => window.homeclaude && window.homeclaude.connected);
    assert.equal(await page.locator(".msg.system", { hasText: /new session/i }).count(), 1);

    await page.locator("#menu-btn").click();
    await page.locator("#menu").waitFor();
    await page.locator("#opt-sound").uncheck();
    await page.locator("#opt-lang").selectOption("ko");
    assert.equal(await page.locator("#prompt").getAttribute("placeholder"), "Claude에게 메시지…");
    await page.locator("#menu-close").click();
    await page.reload();
    await until(page, () => window.homeclaude && window.homeclaude.connected);
    assert.equal(await page.locator("html").getAttribute("lang"), "ko");
    assert.equal(await page.locator("#send").getAttribute("aria-label"), "보내기");
    assert.equal(await page.evaluate(() => localStorage.getItem("hc.sound")), "false");
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await server.stop();
  }
});

test("earlier sessions, even one started in a terminal, are listed and one tap continues it", { timeout: 60000 }, async () => {
  const server = await startServer();
  try {
    // A session file as `claude` writes it in a terminal, in the CLI's store for
    // this workdir (every character that is not a letter or digit becomes "-").
    const { realpathSync, mkdirSync, writeFileSync } = await import("node:fs");
    const workdir = realpathSync(server.dir);
    const store = `${server.dir}/claude/projects/${workdir.replace(/[^A-Za-z0-9]/g, "-")}`;
    mkdirSync(store, { recursive: true });
    const id = "0f1e2d3c-4b5a-4968-8776-655443322110";
    const line = {
      parentUuid: null, isSidechain: false, type: "user",
      message: { role: "user", content: "tidy up the parser" },
      uuid: "u1", timestamp: "2026-11-20T10:00:00.000Z", cwd: workdir, sessionId: id, version: "2.1.330",
    };
    writeFileSync(`${store}/${id}.jsonl`, JSON.stringify(line) + "\n");
    const { page, context, problems } = await openPage(browser, server.url + "/");
    await page.locator("#menu-btn").click();
    await page.locator("#act-sessions").click();
    const item = page.locator(".session-item", { hasText: "tidy up the parser" });
    await item.waitFor();
    await item.locator("button").click();
    await page.locator(".msg.system", { hasText: "Continuing Claude session " + id }).first().waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await server.stop();
  }
});
