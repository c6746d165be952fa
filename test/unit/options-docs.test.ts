/**
 * The one option table (src/cli/options.ts) against what users read: each command's docs page
 * holds exactly the generated block, and `--help` lists every option the table gives it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { addTableOptions, OPTIONS, OPTIONS_DOC, optionsMarkdown, TABLE_COMMANDS, withOptionsBlock } from "../../src/cli/options.js";
import { ROOT } from "../helpers.js";

describe("the option table", () => {
  for (const cmd of TABLE_COMMANDS) {
    it(`${OPTIONS_DOC[cmd]} holds the generated options block of \`corral ${cmd}\``, () => {
      const page = readFileSync(path.join(ROOT, OPTIONS_DOC[cmd]), "utf8");
      // Out of date: run `node scripts/gen-options.mjs`.
      expect(page).toBe(withOptionsBlock(page, cmd));
      expect(page).toContain(optionsMarkdown(cmd));
    });

    it(`\`corral ${cmd} --help\` lists the table's options of ${cmd}, in table order`, () => {
      const c = addTableOptions(new Command(cmd), cmd);
      const visible = c.options.filter((o) => !o.hidden).map((o) => o.long);
      const expected = OPTIONS.filter((o) => o.commands.includes(cmd) && !o.hiddenIn?.includes(cmd)).map((o) => `--${o.key.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`);
      expect(visible).toEqual(expected);
      const help = c.helpInformation();
      for (const long of expected) expect(help).toContain(long!);
    });
  }

  it("each option is declared once, and every command it names has its flags and help", () => {
    const keys = OPTIONS.map((o) => o.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const o of OPTIONS) for (const cmd of o.commands) expect(() => addTableOptions(new Command(cmd), cmd)).not.toThrow();
  });

  it("value parsers and choices travel with the option: -j rejects 0, --launcher rejects others", () => {
    const run = addTableOptions(new Command("run").exitOverride().configureOutput({ writeErr: () => undefined }), "run");
    expect(() => run.parse(["-j", "0"], { from: "user" })).toThrow(/-j must be a positive integer/);
    expect(() => run.parse(["--launcher", "pbs"], { from: "user" })).toThrow(/Allowed choices are local, slurm/);
    expect(run.parse(["-j", "3"], { from: "user" }).opts()).toMatchObject({ jobs: 3 });
  });

  it("a page without the markers is an error, not a silent pass", () => {
    expect(() => withOptionsBlock("# no block\n", "run")).toThrow(/no options block/);
  });
});
