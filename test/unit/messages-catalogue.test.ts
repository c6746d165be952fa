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

/**
 * Templates a user cannot reach through the CLI: `<file>: <leading words>` (parsers of the
 * scheduler's output, invariants of plan/ that the schema guarantees first).
 */
const INTERNAL = [
  "src/launchers/slurm/parse.ts: sbatch printed no job", // SLURM printed something else than a job id
  "src/launchers/slurm/parse.ts: bad array", // parsing squeue's array ids
  "src/launchers/slurm/parse.ts: unrecognised SLURM job id",
  "src/launchers/slurm/parse.ts: unexpected squeue line",
  "src/launchers/slurm/parse.ts: unexpected sacct line",
  "src/plan/sbatch.ts: a value passed to", // a NUL byte: the schema refuses it first
  "src/plan/sbatch.ts: invalid number of seconds:", // formatting a duration the schema checked
  "src/plan/sbatch.ts: a single-command batch script", // script invariants
  "src/plan/sbatch.ts: exec needs a command",
  "src/plan/sbatch.ts: a probe script runs", // the doctor probe's own script
  "src/plan/search/study.ts: this study's sampler was", // corral resume refuses such a study first (`<n> trials of this study ...`)
  "src/plan/sbatch.ts: launcher.nodejs must be an", // the schema refuses such a value first (`<key> must be <what it takes>`)
  "src/plan/sbatch.ts: invalid environment variable name", // names come from Corral itself
  "src/plan/pack.ts: ", // packing invariants: the launcher settings are checked and clamped first
  "src/engine/loop.ts: records no launcher settings", // a sweep.json written by an older Corral
];

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
      .filter(({ t, words }) => !INTERNAL.some((w) => `${t.file}: ${words}`.startsWith(w)))
      .filter(({ words }) => !page.includes(words))
      .map(({ t, words }) => `${t.file}:${t.line}: "${words}"  (${t.text.slice(0, 100)})`);
    expect(missing, `not in docs/messages.md (catalogue them, or add to INTERNAL):\n${missing.join("\n")}`).toEqual([]);
  });
});
