/**
 * The reverse direction of test/e2e/messages.test.ts: every message template of a
 * `new CorralError(...)` in src/ must appear in docs/messages.md, so a new message gets
 * catalogued (its cause and fix) when it is written. The match is deliberately simple: the
 * first words (up to 4) of the template's first literal stretch of 3 or more whole words (else
 * its longest stretch) must occur in the page, whitespace collapsed. Internal errors a user
 * cannot reach through the CLI are listed in INTERNAL.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers.js";
import { corralErrorTemplates, leadingWords } from "../messages-scan.js";

/** Leading words of templates a user cannot reach (parsers of scheduler output, invariants of plan/). */
const INTERNAL = new Set([
  "sbatch printed no job id:", // SLURM printed something else than a job id
  "bad array throttle in", // parsing squeue's array ids
  "bad array index list", //
  "bad array step in", //
  "unrecognised SLURM job id", //
  "unexpected squeue line (want", //
  "unexpected sacct line (want", //
  "a value passed to", // shell quoting of a NUL byte: the schema refuses it first
  "invalid number of seconds:", // formatting a duration the schema already checked
  "a single-command batch script", // sbatch script invariant
  "exec needs a command", // sbatch script invariant
  "jobCountShare must be in", // packing invariant (not a user setting)
  "run index must be", // packing invariant
  "run index", // packing invariant: `run index ${r} appears twice`
  "must be a positive", // pack.ts posInt: `${name} must be a positive integer` of internal numbers
  "records no launcher settings", // a sweep.json written by an older Corral
  "invalid environment variable name", // sbatch env names come from Corral itself
]);

const normalise = (s: string): string => s.replace(/\s+/g, " ");

describe("docs/messages.md catalogues every CorralError message", () => {
  const page = normalise(readFileSync(path.join(ROOT, "docs/messages.md"), "utf8"));
  const templates = corralErrorTemplates();

  it("finds the message templates in src/", () => {
    expect(templates.length).toBeGreaterThan(100);
  });

  it("every template's leading words appear in the catalogue (or it is internal)", () => {
    const missing = templates
      .map((t) => ({ t, words: leadingWords(t) }))
      .filter(({ words }) => words.split(" ").length >= 2)
      .filter(({ words }) => ![...INTERNAL].some((w) => words.startsWith(w)))
      .filter(({ words }) => !page.includes(words))
      .map(({ t, words }) => `${t.file}:${t.line}: "${words}"  (${t.text.slice(0, 100)})`);
    expect(missing, `not in docs/messages.md (catalogue them, or add to INTERNAL):\n${missing.join("\n")}`).toEqual([]);
  });
});
