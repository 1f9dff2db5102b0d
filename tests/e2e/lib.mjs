// Shared harness of the end-to-end tests: the real homeclaude binary with the fake
// `claude`, Debian's Chromium driven by playwright-core, and a TCP proxy the tests
// can cut to play a dropped connection. Nothing here sleeps for a fixed time: every
// wait is on a condition (a log line, a page state), with a deadline.

import { spawn, spawnSync } from "node:child_process";
import { before, after } from "node:test";
import { mkdtempSync, mkdirSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, "../..");
export const fixtures = path.join(here, "fixtures");
const target = process.env.CARGO_TARGET_DIR || path.join(root, "target");
export const binary = process.env.HOMECLAUDE_BIN || path.join(target, "debug", "homeclaude");
export const fakeClaude = process.env.FAKE_CLAUDE_BIN || path.join(target, "debug", "fake-claude");

/** Chromium's flags on this machine (see the machine notes): no network chatter. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Starts Chromium with a fresh profile (playwright makes a new --user-data-dir);
 * `extraArgs` are added to its flags.
 */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/**
 * Registers the hooks most test files need: Chromium and one server (`opts` as for
 * startServer) for the whole file, started before its first test and stopped after
 * its last. Returns the object whose `browser` and `server` the hooks fill in.
 */
export function withBrowserAndServer(opts = {}) {
  const env = { browser: null, server: null };
  before(async () => {
    env.browser = await launchBrowser();
    env.server = await startServer(opts);
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

// Servers still running, and their temporary folders; a test process that dies
// (a failed hook, a timeout, Ctrl-C) or a test that fails before `stop()` must
// leave neither behind.
const running = new Set();
const folders = new Set();
const reapAll = () => {
  running.forEach((p) => p.kill("SIGKILL"));
  folders.forEach((d) => rmSync(d, { recursive: true, force: true }));
};
process.once("exit", reapAll);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    reapAll();
    process.exit(128 + (sig === "SIGINT" ? 2 : 15));
  });
}

/**
 * Starts the server on port 0 with a temporary data directory and the fake CLI.
 * `opts.env` adds environment (FAKE_CLAUDE_* settings reach the fake through it);
 * `opts.args` adds flags. Resolves once the server logs its address.
 */
export async function startServer(opts = {}) {
  if (!existsSync(binary)) throw new Error(`no ${binary}: run cargo build first`);
  const dir = mkdtempSync(path.join(tmpdir(), "homeclaude-e2e-"));
  const args = [
    "--listen", "127.0.0.1:0",
    "--data-dir", path.join(dir, "data"),
    "--workdir", dir,
    "--claude", fakeClaude,
    ...(opts.auth ? [] : ["--no-auth"]),
    // E2E_TEMPLATES=DIR serves the page from DIR (--templates): to see a test fail
    // on another version of the page, e.g. main's.
    ...(process.env.E2E_TEMPLATES ? ["--templates", process.env.E2E_TEMPLATES] : []),
    ...(opts.args || []),
  ];
  const env = {
    ...process.env,
    RUST_LOG: process.env.RUST_LOG || "info",
    FAKE_CLAUDE_TRANSCRIPT_DIR: fixtures,
    FAKE_CLAUDE_TRANSCRIPT: path.join(fixtures, "conversation.jsonl"),
    // Usage figures come from the CLI's transcripts under here: none, unless a
    // test writes some (this machine's own ~/.claude stays out of the tests).
    CLAUDE_CONFIG_DIR: path.join(dir, "claude"),
    ...(opts.env || {}),
  };
  let tokens = null;
  if (opts.auth) {
    // `homeclaude token` makes (or reads) the owner and viewer tokens in the data dir.
    const r = spawnSync(binary, ["token", "--data-dir", path.join(dir, "data")], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error("homeclaude token failed: " + r.stderr);
    tokens = { owner: r.stdout.trim(), viewer: (r.stderr.match(/viewer \(read-only\) token: (\S+)/) || [])[1] };
  }
  mkdirSync(path.join(dir, "claude", "projects"), { recursive: true });
  if (opts.usage) writeUsage(path.join(dir, "claude", "projects"), opts.usage);
  const proc = spawn(binary, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const lines = [];
  const waiters = [];
  const onData = (chunk) => {
    log += chunk.toString();
    let i;
    while ((i = log.indexOf("\n")) >= 0) {
      const line = log.slice(0, i);
      log = log.slice(i + 1);
      lines.push(line);
      if (process.env.E2E_VERBOSE) process.stderr.write("[server] " + line + "\n");
      for (const w of waiters.slice()) if (w.re.test(line)) w.done(line);
    }
  };
  proc.stdout.on("data", onData);
  proc.stderr.on("data", onData);
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  running.add(proc);
  folders.add(dir);
  exited.then(() => running.delete(proc));

  function waitForLine(re, ms = 15000) {
    const seen = lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        re,
        done: (line) => {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(w), 1);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`server never logged ${re}; log:\n${lines.join("\n")}`));
      }, ms);
      waiters.push(w);
      exited.then(({ code, signal }) => {
        if (waiters.includes(w)) {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`server exited (${code ?? signal}) before logging ${re}; log:\n${lines.join("\n")}`));
        }
      });
    });
  }

  const line = await waitForLine(/listening on https?:\/\/\S+/);
  const [, scheme, addr] = line.match(/listening on (https?):\/\/(\S+)/);
  const [host, port] = [addr.slice(0, addr.lastIndexOf(":")), Number(addr.slice(addr.lastIndexOf(":") + 1))];
  const loginLine = lines.find((l) => /login\?token=/.test(l));
  return {
    url: `${scheme}://${addr}`,
    host,
    port,
    dir,
    lines,
    waitForLine,
    loginUrl: loginLine ? loginLine.match(/(https?:\/\/\S+login\?token=\S+)/)[1] : null,
    tokens,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
      folders.delete(dir);
    },
  };
}

/**
 * A TCP proxy in front of the server. `cut()` drops every connection through it, as
 * a phone losing its network does (the server sees its socket die, the page its
 * WebSocket close); `blockWebSockets(true)` then refuses new WebSocket upgrades
 * while ordinary page loads still pass, so a test can hold the page offline.
 */
export async function startProxy(targetPort, targetHost = "127.0.0.1") {
  const sockets = new Set();
  let blocked = false;
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    client.once("data", (first) => {
      const isUpgrade = /^GET \/ws[?\s]/.test(first.toString("latin1", 0, 64));
      if (blocked && isUpgrade) {
        client.destroy();
        return;
      }
      const upstream = net.connect(targetPort, targetHost);
      sockets.add(upstream);
      upstream.on("close", () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.write(first);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    cut() {
      for (const s of sockets) s.destroy();
    },
    blockWebSockets(on) {
      blocked = on;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Collects page errors and CSP violations so a test can assert there were none. */
export function watchPage(page) {
  const problems = [];
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !/WebSocket connection|ERR_CONNECTION|Failed to load resource/.test(m.text())) {
      problems.push("console: " + m.text());
    }
  });
  return problems;
}

/**
 * Waits until `fn(arg)` is truthy in the page (polled on animation frames). `fn`
 * must be synchronous: playwright does not await a returned promise.
 */
export async function until(page, fn, arg, timeout = 20000) {
  return page.waitForFunction(fn, arg, { timeout, polling: "raf" });
}

/** Opens the page and waits until it is connected and its replay is over. */
export async function openPage(browser, url, contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const problems = watchPage(page);
  await page.goto(url);
  await until(page, () => window.homeclaude && window.homeclaude.connected);
  return { context, page, problems };
}

/** Types a prompt and sends it the way a desktop user does: Enter. */
export async function sendPrompt(page, text) {
  await page.locator("#prompt").fill(text);
  await page.locator("#prompt").press("Enter");
}

/**
 * Writes a session transcript the usage meter reads as `usage.calls` API calls of
 * `usage.costUSD` each, spread over the last `usage.minutes` minutes: the header
 * then shows today's cost and an active 5-hour block.
 */
export function writeUsage(projects, usage) {
  const dir = path.join(projects, "-home-pi-projects-wordcount");
  mkdirSync(dir, { recursive: true });
  const session = "5f0e9a61-2b7c-4d3e-8f1a-0c9b8a7d6e5f";
  const now = Date.now();
  const lines = [];
  for (let i = 0; i < usage.calls; i++) {
    const at = new Date(now - usage.minutes * 60000 + (i * usage.minutes * 60000) / usage.calls);
    // Compact JSON, as the CLI writes it (the meter looks for `"usage":{`).
    lines.push(JSON.stringify({
      type: "assistant", timestamp: at.toISOString(), sessionId: session, version: "2.1.330",
      cwd: "/home/pi/projects/wordcount", requestId: `req_e2e_${i}`, uuid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      costUSD: usage.costUSD,
      message: { id: `msg_e2e_${i}`, model: "claude-sonnet-4-5-20250929", role: "assistant", type: "message",
        content: [{ type: "text", text: "." }],
        usage: { input_tokens: 1200, output_tokens: 800, cache_read_input_tokens: 40000, cache_creation_input_tokens: 2000 } },
    }));
  }
  writeFileSync(path.join(dir, session + ".jsonl"), lines.join("\n") + "\n");
}
