// Measures the page's first-load transfer: what Chromium received (headers and
// bodies, as CDP's encodedDataLength counts them) for a fresh profile's first visit,
// and the size of every shell file the server embeds, icons included (the upper
// bound: an installing browser also fetches the manifest's icons).
// Usage: cargo build && node tests/e2e/weight.mjs
import { launchBrowser, startServer, until } from "./lib.mjs";

const server = await startServer();
const browser = await launchBrowser();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const urls = new Map();
  const sizes = new Map();
  cdp.on("Network.responseReceived", (e) => urls.set(e.requestId, { url: e.response.url, type: e.type }));
  cdp.on("Network.loadingFinished", (e) => sizes.set(e.requestId, e.encodedDataLength));
  await page.goto(server.url);
  await until(page, () => window.homeclaude && window.homeclaude.connected);
  await page.evaluate(() => navigator.serviceWorker && navigator.serviceWorker.ready.then(() => true));
  await page.waitForLoadState("networkidle");
  let total = 0;
  const rows = [];
  for (const [id, info] of urls) {
    if (!sizes.has(id) || info.type === "WebSocket") continue;
    const n = sizes.get(id);
    total += n;
    rows.push([new URL(info.url).pathname + new URL(info.url).search, info.type, n]);
  }
  console.log("first load, as received by Chromium (headers + bodies):");
  for (const [u, type, n] of rows) console.log(`  ${String(n).padStart(7)}  ${type.padEnd(10)} ${u}`);
  console.log(`  ${String(total).padStart(7)}  total`);

  const shell = ["/", "/static/app.css", "/static/app.js", "/manifest.webmanifest", "/sw.js",
    "/static/icon.svg", "/static/icon-192.png", "/static/icon-512.png", "/static/icon-maskable-512.png"];
  let all = 0;
  console.log("every shell file (bodies):");
  for (const p of shell) {
    const r = await fetch(server.url + p);
    const n = (await r.arrayBuffer()).byteLength;
    all += n;
    console.log(`  ${String(n).padStart(7)}  ${p}  (${r.headers.get("content-encoding") || "identity"})`);
  }
  console.log(`  ${String(all).padStart(7)}  total`);
} finally {
  await browser.close();
  await server.stop();
}
