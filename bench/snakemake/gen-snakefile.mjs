// Writes the Snakefile of the synthetic two-rule DAG used to time Snakemake's planning
// (shape of /work/shared/notes/peers.md): a/{i}.txt -> b/{i}.txt, rule all over i in range(n).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Write `<dir>/Snakefile` for `n` b-files (2n + 1 jobs) and return its path. */
export function writeSnakefile(dir, n) {
  mkdirSync(dir, { recursive: true });
  const text = `rule all:
    input: expand("b/{i}.txt", i=range(${n}))

rule b:
    input: "a/{i}.txt"
    output: "b/{i}.txt"
    shell: "cp {input} {output}"

rule a:
    output: "a/{i}.txt"
    shell: "touch {output}"
`;
  const path = join(dir, "Snakefile");
  writeFileSync(path, text);
  return path;
}

// `node bench/snakemake/gen-snakefile.mjs DIR N` writes one for manual runs.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, n] = process.argv.slice(2);
  if (!dir || !n) {
    console.error("usage: gen-snakefile.mjs DIR N");
    process.exit(2);
  }
  console.log(writeSnakefile(dir, Number(n)));
}
