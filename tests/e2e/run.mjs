// Runs the end-to-end tests one file after another (each starts its own servers and
// a browser; two cores are not enough to run them side by side).
// Needs target/debug/homeclaude and target/debug/fake-claude (cargo build) and
// Debian's Chromium at /usr/bin/chromium. Usage: node tests/e2e/run.mjs [file ...]
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const picked = process.argv.slice(2);
const files = (picked.length ? picked : readdirSync(here).filter((f) => f.endsWith(".test.mjs")).sort())
  .map((f) => path.resolve(here, path.basename(f).replace(/(\.test\.mjs)?$/, ".test.mjs")));
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=1", ...files], { stdio: "inherit", cwd: here });
process.exit(r.status ?? 1);
