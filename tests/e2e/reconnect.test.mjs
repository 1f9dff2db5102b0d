// The connection: dropped under the page, it comes back by itself, replays what it
// missed exactly once, and delivers what was typed meanwhile.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startServer, startProxy, openPage, sendPrompt, until } from "./lib.mjs";

let browser;
let server;
let proxy;
before(async () => {
  browser = await launchBrowser();
  server = await startServer();
  proxy = await startProxy(server.port);
});
after(async () => {
  await browser?.close();
  await proxy?.close();
  await server?.stop();
});

// What a conversation looks like, independent of times and layout.
function shape(page) {
  return page.locator("#log > *").evaluateAll((nodes) =>
    nodes.map((n) => {
      if (n.classList.contains("run")) {
        const tools = [...n.querySelectorAll(".step.tool .tname")].map((x) => x.textContent).join(",");
        return "run[" + [...n.classList].filter((c) => c !== "run").join(" ") + "](" + tools + ")" + (n.querySelector(".stats") ? "+stats" : "");
      }
      if (n.hidden) return "hidden";
      const kind = ["user", "claude", "system"].find((k) => n.classList.contains(k)) || "?";
      return kind + ":" + n.querySelector(".bubble").textContent;
    }).filter((x) => x !== "hidden")
  );
}

async function goOffline(page) {
  proxy.blockWebSockets(true);
  proxy.cut();
  await until(page, () => document.getElementById("dot").classList.contains("offline"));
  await page.locator("#banner").waitFor();
}

async function goOnline(page) {
  proxy.blockWebSockets(false);
  // Do not wait out the back-off: the banner's button connects at once. The
  // page's own retry may get there first and hide it: then it is connected.
  try {
    await page.locator("#banner-action").click({ timeout: 5000 });
  } catch (e) {
    if (!(await page.evaluate(() => window.homeclaude.connected))) throw e;
  }
  await until(page, () => window.homeclaude.connected);
}

test("the server side drops the connection; the page reconnects and shows what it missed exactly once", { timeout: 90000 }, async () => {
  const a = await openPage(browser, proxy.url); // a phone, through the flaky link
  const b = await openPage(browser, server.url); // another device, always on
  await sendPrompt(a.page, "@quick before the drop");
  await a.page.locator(".run.done + .msg.claude", { hasText: "Quick answer." }).waitFor();

  await goOffline(a.page);
  assert.match(await a.page.locator("#banner-text").textContent(), /Offline|reconnect/i);
  // While the phone is away, the other device runs a whole prompt.
  await sendPrompt(b.page, "while you were away");
  await until(b.page, () => document.querySelectorAll(".run.done").length === 2, undefined, 30000);
  await b.page.locator(".msg.claude .bubble.md", { hasText: "wordcount --lines" }).waitFor();
  const seqBefore = await a.page.evaluate(() => window.homeclaude.lastSeq);

  await goOnline(a.page);
  await until(a.page, () => document.querySelectorAll(".run.done").length === 2);
  await a.page.locator(".msg.claude .bubble.md", { hasText: "wordcount --lines" }).waitFor();
  assert.ok((await a.page.evaluate(() => window.homeclaude.lastSeq)) > seqBefore);

  // Exactly once: the same conversation as the device that never left.
  const [sa, sb] = [await shape(a.page), await shape(b.page)];
  assert.deepEqual(sa, sb);
  assert.equal(sa.filter((x) => x === "user:while you were away").length, 1);
  assert.equal(sa.filter((x) => x.startsWith("run[done](TodoWrite,Read,Grep,TodoWrite,Edit,Bash,TodoWrite)+stats")).length, 1);
  assert.equal(sa.filter((x) => x.startsWith("claude:Done: wordcount --lines")).length, 1);

  // A second drop in the middle of a run: the card picks up where it was.
  await sendPrompt(b.page, "@slow a long one");
  await a.page.locator(".run.running .step.tool-bash").waitFor();
  await goOffline(a.page);
  await b.page.locator("#stop").click();
  await until(b.page, () => document.querySelector(".run.stopped"));
  await goOnline(a.page);
  await a.page.locator(".run.stopped").waitFor();
  assert.deepEqual(await shape(a.page), await shape(b.page));
  assert.equal(await a.page.locator(".run").count(), 3);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});

test("a prompt typed while offline survives a reload and is delivered once the connection is back", { timeout: 90000 }, async () => {
  const a = await openPage(browser, proxy.url);
  const watcher = await openPage(browser, server.url);
  await goOffline(a.page);

  await sendPrompt(a.page, "@quick typed while offline");
  const pending = a.page.locator("#pending .msg.user.pending", { hasText: "typed while offline" });
  await pending.waitFor();
  assert.match(await pending.locator(".state").textContent(), /waiting for the connection/);

  // Reload while still offline: the page loads, the socket cannot; the prompt is kept.
  await a.page.reload();
  await until(a.page, () => document.getElementById("dot").classList.contains("offline"));
  await pending.waitFor();
  assert.equal(await pending.count(), 1);
  assert.deepEqual(await watcher.page.locator(".msg.user", { hasText: "typed while offline" }).count(), 0);

  await goOnline(a.page);
  const mine = a.page.locator("#log .msg.user.delivered", { hasText: "typed while offline" });
  await mine.waitFor();
  assert.equal(await mine.count(), 1);
  assert.match(await mine.locator(".state").textContent(), /delivered/);
  assert.equal(await a.page.locator("#pending .msg").count(), 0);
  assert.deepEqual(await a.page.evaluate(() => window.homeclaude.outbox), []);
  assert.equal(await a.page.evaluate(() => localStorage.getItem("hc.outbox")), "[]");
  // Sent once: the other device saw it once, and Claude answered it once.
  await watcher.page.locator(".msg.user", { hasText: "typed while offline" }).waitFor();
  await until(watcher.page, () => [...document.querySelectorAll(".msg.user")].filter((n) => n.textContent.includes("typed while offline")).length === 1);
  await a.page.locator(".msg.user", { hasText: "typed while offline" }).locator("xpath=following-sibling::section[contains(@class,'run')][1]").waitFor();
  await until(a.page, () => {
    const runs = [...document.querySelectorAll(".run")];
    return runs.length && runs[runs.length - 1].classList.contains("done");
  });
  assert.equal(await watcher.page.locator(".msg.user", { hasText: "typed while offline" }).count(), 1);
  assert.deepEqual(a.problems, []);
  await a.context.close();
  await watcher.context.close();
});
