// The page over homeclaude's own TLS (a binary built with --features tls): login
// over https, the chat over wss, a secure context for the PWA features, and
// http:// on the same port sent to https://.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchBrowser, startServer, watchPage, sendPrompt, until } from "./lib.mjs";

let browser;
let certDir;
before(async () => {
  // A throwaway self-signed certificate, made the way docs/DEPLOY.md shows.
  certDir = mkdtempSync(path.join(tmpdir(), "homeclaude-e2e-tls-"));
  const r = spawnSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout", path.join(certDir, "key.pem"), "-out", path.join(certDir, "cert.pem"),
  ], { encoding: "utf8" });
  assert.equal(r.status, 0, "openssl failed: " + r.stderr);
  // Chromium trusts this one key as if a CA had signed it (its flag for tests), so
  // the page is a fully valid https origin: the service worker may register, which
  // Chromium refuses on a certificate that was merely clicked through.
  const spki = spawnSync("sh", ["-c",
    `openssl x509 -in '${path.join(certDir, "cert.pem")}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
  ], { encoding: "utf8" });
  assert.equal(spki.status, 0, "openssl failed: " + spki.stderr);
  browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${spki.stdout.trim()}`]);
});
after(async () => {
  await browser?.close();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

test("login over https, chat over wss, and http:// redirected", { timeout: 60000 }, async () => {
  const server = await startServer({
    auth: true,
    args: ["--tls-cert", path.join(certDir, "cert.pem"), "--tls-key", path.join(certDir, "key.pem")],
  });
  try {
    assert.match(server.url, /^https:\/\//);
    assert.match(server.loginUrl, /^https:\/\//);
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchPage(page);

    // Typing http:// lands on https://.
    await page.goto(`http://${server.host}:${server.port}/login`);
    assert.equal(new URL(page.url()).protocol, "https:");

    await page.goto(server.loginUrl);
    assert.equal(new URL(page.url()).pathname, "/");
    await until(page, () => window.homeclaude && window.homeclaude.connected);
    assert.equal(await page.evaluate(() => window.isSecureContext), true);
    // A secure context: the service worker (offline shell, notifications) registers.
    await until(page, () => navigator.serviceWorker && navigator.serviceWorker.controller !== null);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "homeclaude_session");
    assert.ok(session && session.secure && session.httpOnly, JSON.stringify(cookies));

    // The WebSocket is wss (an https page may not open ws://: mixed content) and
    // carries a whole run.
    await sendPrompt(page, "Count lines too, please");
    await page.locator(".msg.user.delivered", { hasText: "Count lines too, please" }).waitFor();
    await page.locator(".run.done").waitFor({ timeout: 30000 });
    assert.ok(
      server.lines.some((l) => /ws 127\.0\.0\.1:\d+: open/.test(l)),
      "the server saw a WebSocket open",
    );
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await server.stop();
  }
});
