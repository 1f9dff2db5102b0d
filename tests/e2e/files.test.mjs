// Files on a phone (issue 16): a picture attached with the file chooser (thumbnail,
// upload progress) goes with the prompt to the CLI as an image block; the Files
// sheet then browses to it, shows it inline, and shows a text file with line
// numbers; a file made by someone else appears in the open sheet (file_update).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { withBrowserAndServer, openPage, until, fixtures, root } from "./lib.mjs";

const record = path.join(tmpdir(), `homeclaude-e2e-files-${process.pid}.jsonl`);
const env = withBrowserAndServer({
  env: { FAKE_CLAUDE_TRANSCRIPT: path.join(fixtures, "quick.jsonl"), FAKE_CLAUDE_RECORD: record },
  args: ["--max-upload", String(4 * 1024 * 1024)],
});
after(() => rmSync(record, { force: true }));
const shots = path.join(root, "target", "e2e-shots");
mkdirSync(shots, { recursive: true });

test("a picture attached by the file chooser uploads with progress, goes with the prompt, and is browsable", { timeout: 90000 }, async () => {
  const { page, problems, context } = await openPage(env.browser, env.server.url, { viewport: { width: 390, height: 844 } });
  // A real PNG (a piece of the page itself), padded past 2 MB after its end so the
  // upload takes several progress events.
  const png = await page.screenshot({ clip: { x: 0, y: 0, width: 390, height: 120 } });
  // Outside the workdir's listing: in the (never served) data dir.
  const picture = path.join(env.server.dir, "data", `phone-${process.pid}.png`);
  writeFileSync(picture, Buffer.concat([png, Buffer.alloc(2.5 * 1024 * 1024)]));
  await page.evaluate(() => {
    window.__progress = [];
    const open = XMLHttpRequest.prototype.open;
    XMLHttpRequest.prototype.open = function (...args) {
      this.upload.addEventListener("progress", (e) => window.__progress.push(e.loaded / e.total));
      return open.apply(this, args);
    };
  });

  // A phone's uplink (about 2 MB/s), so the upload is seen in progress.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 2 * 1024 * 1024 });
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.locator("#attach").click()]);
  await chooser.setFiles(picture);
  const att = page.locator("#attach-tray .attachment");
  await att.first().waitFor();
  await page.locator("#attach-tray .attachment .thumb img[src^='data:image/png']").waitFor();
  await until(page, () => {
    const bar = document.querySelector("#attach-tray .attachment.up .att-bar");
    return bar && bar.value > 0.2 && bar.value < 0.9;
  });
  assert.equal(await page.locator("#send").isDisabled(), true, "no sending while an upload runs");
  await page.screenshot({ path: path.join(shots, "phone-attach-progress.png") });
  await page.locator("#attach-tray .attachment.ok").waitFor();
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  assert.equal(await att.count(), 1);
  const progress = await page.evaluate(() => window.__progress);
  assert.ok(progress.length >= 2 && progress[progress.length - 1] === 1, `progress events: ${progress}`);
  assert.equal(await page.locator("#attach-tray .att-bar").evaluate((b) => b.value), 1);
  await page.screenshot({ path: path.join(shots, "phone-attach-thumbnail.png") });

  // The file is in uploads/ on the box, whole.
  const uploads = path.join(env.server.dir, "uploads");
  const names = readdirSync(uploads);
  assert.equal(names.length, 1);
  assert.match(names[0], /^\d{8}-\d{6}-[0-9a-f]{4}-phone-\d+\.png$/);
  assert.equal(readFileSync(path.join(uploads, names[0])).length, png.length + 2.5 * 1024 * 1024);

  // Sent with a prompt: the bubble shows the picture; the CLI got an image block.
  await page.locator("#prompt").fill("What is wrong in this screenshot?");
  await page.locator("#send").click();
  const bubble = page.locator(".msg.user", { hasText: "What is wrong in this screenshot?" });
  await bubble.locator(".att-list img").waitFor();
  await until(page, () => {
    const img = document.querySelector(".msg.user .att-list img");
    return img && img.complete && img.naturalWidth === 390;
  });
  assert.equal(await page.locator("#attach-tray").isHidden(), true, "the tray empties when sent");
  await page.locator(".run.done").waitFor({ timeout: 30000 });
  await page.screenshot({ path: path.join(shots, "phone-attach-sent.png") });
  const user = readFileSync(record, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((v) => v.type === "user");
  const content = user.message.content;
  assert.equal(content[0].type, "text");
  assert.match(content[0].text, /What is wrong in this screenshot\?/);
  assert.equal(content[1].type, "image");
  assert.equal(content[1].source.media_type, "image/png");
  assert.equal(Buffer.from(content[1].source.data, "base64").subarray(0, png.length).equals(png), true);

  // The Files sheet: the root, then uploads/, then the picture inline.
  writeFileSync(path.join(env.server.dir, "notes.txt"), "first line\nsecond line\nthird line\n");
  await page.locator("#open-files").click();
  const list = page.locator("#files-list");
  await list.locator(".file-row.dir", { hasText: "uploads" }).waitFor();
  assert.equal(await list.locator(".file-row", { hasText: "data" }).count(), 0, "the data dir is not listed");
  await page.screenshot({ path: path.join(shots, "phone-files-root.png") });
  await list.locator(".file-row.dir", { hasText: "uploads" }).click();
  await list.locator(".file-row.file").first().waitFor();
  assert.deepEqual(await page.locator("#files-crumbs .crumb").allTextContents(), ["Project", "uploads"]);
  await list.locator(".file-row.file").first().click();
  await until(page, () => {
    const img = document.querySelector("#files-body .file-image");
    return img && img.complete && img.naturalWidth === 390;
  });
  assert.match(await page.locator("#files-download").getAttribute("href"), /download=1$/);
  await page.screenshot({ path: path.join(shots, "phone-files-image.png") });

  // A text file with line numbers.
  await page.locator("#files-crumbs .crumb", { hasText: "Project" }).click();
  await list.locator(".file-row.file", { hasText: "notes.txt" }).click();
  await page.locator("#files-body .file-text .line").nth(2).waitFor();
  assert.deepEqual(await page.locator("#files-body .file-text .ln").allTextContents(), ["1", "2", "3"]);
  assert.equal(await page.locator("#files-body .file-text .lt").nth(1).textContent(), "second line");
  await page.screenshot({ path: path.join(shots, "phone-files-text.png") });

  // Made by someone else while the sheet is open: it appears (file_update).
  await page.locator("#files-back").click();
  await list.locator(".file-row", { hasText: "notes.txt" }).waitFor();
  writeFileSync(path.join(env.server.dir, "from-a-shell.txt"), "hi\n");
  await list.locator(".file-row", { hasText: "from-a-shell.txt" }).waitFor({ timeout: 5000 });

  // Delete with a confirmation.
  const seqBefore = await page.evaluate(() => window.homeclaude.lastSeq);
  page.once("dialog", (d) => d.accept());
  await list.locator(".file-row", { hasText: "from-a-shell.txt" }).click();
  await page.locator("#files-delete").click();
  await list.locator(".file-row", { hasText: "notes.txt" }).waitFor();
  await until(page, () => !document.querySelector('#files-list [data-path="from-a-shell.txt"]'));
  assert.equal(existsSync(path.join(env.server.dir, "from-a-shell.txt")), false);
  // Its file_update has come (the next run's card must not count it).
  await until(page, (n) => window.homeclaude.lastSeq > n, seqBefore);

  // "Changed in this run": a file made while a run goes is listed on its card.
  await page.locator("#files-close").click();
  await page.locator("#prompt").fill("@slow change some files");
  await page.locator("#send").click();
  await page.locator(".run.running").waitFor();
  writeFileSync(path.join(env.server.dir, "made-during-run.txt"), "x\n");
  const changed = page.locator(".run.running .changed");
  await changed.locator("summary", { hasText: "Changed in this run: 1" }).waitFor({ timeout: 5000 });
  await changed.locator("summary").click();
  assert.deepEqual(await changed.locator(".changed-item .link-btn").allTextContents(), ["made-during-run.txt"]);
  assert.equal(await changed.locator(".changed-item .act").textContent(), "new");
  await page.screenshot({ path: path.join(shots, "phone-run-changed.png") });
  await page.locator("#stop").click();
  await page.locator(".run.stopped").waitFor({ timeout: 15000 });

  // Over --max-upload: refused by the page before a byte is sent.
  const big = path.join(env.server.dir, "data", "big.bin");
  writeFileSync(big, Buffer.alloc(5 * 1024 * 1024));
  const [chooser2] = await Promise.all([page.waitForEvent("filechooser"), page.locator("#attach").click()]);
  await chooser2.setFiles(big);
  await page.locator("#attach-tray .attachment.err").waitFor();
  assert.match(await page.locator("#toast").textContent(), /Upload failed: larger than this server accepts \(4\.0 MB\)/);
  assert.equal(readdirSync(uploads).length, 1, "nothing more was uploaded");

  assert.deepEqual(problems, []);
  await context.close();
});
