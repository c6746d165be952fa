#!/usr/bin/env node
// Rewrites the "Options" block of each command's page in docs/ from the one option table in
// src/cli/options.ts. With --check, changes nothing and exits 1 when a page is out of date
// (test/unit/options-docs.test.ts checks the same in `npm test`).
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tsImport } from "tsx/esm/api";

const ROOT = path.resolve(import.meta.dirname, "..");
const { OPTIONS_DOC, TABLE_COMMANDS, withOptionsBlock } = await tsImport("../src/cli/options.ts", import.meta.url);
const check = process.argv.includes("--check");
let stale = 0;
for (const cmd of TABLE_COMMANDS) {
  const file = path.join(ROOT, OPTIONS_DOC[cmd]);
  const page = readFileSync(file, "utf8");
  const next = withOptionsBlock(page, cmd);
  if (next === page) continue;
  stale++;
  if (check) console.error(`${OPTIONS_DOC[cmd]}: options block out of date`);
  else {
    writeFileSync(file, next);
    console.error(`${OPTIONS_DOC[cmd]}: options block rewritten`);
  }
}
if (check && stale) {
  console.error("run `node scripts/gen-options.mjs` to regenerate");
  process.exit(1);
}
