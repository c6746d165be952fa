import { describe, expect, it } from "vitest";
import { CorralError } from "../../src/errors.js";
import { compilePattern, PatternIndex, wildcardNames } from "../../src/plan/patterns.js";

describe("compilePattern", () => {
  it("matches wildcards with the default .+ regex and formats back", () => {
    const p = compilePattern("results/{model}/{seed}.pt");
    expect(p.names).toEqual(["model", "seed"]);
    expect(p.match("results/mlp/3.pt")).toEqual({ model: "mlp", seed: "3" });
    // .+ is greedy and may span slashes, as in Snakemake
    expect(p.match("results/a/b/3.pt")).toEqual({ model: "a/b", seed: "3" });
    expect(p.match("results//3.pt")).toBeNull();
    expect(p.match("results/mlp/3.ptx")).toBeNull();
    expect(p.format({ model: "cnn", seed: "7" })).toBe("results/cnn/7.pt");
  });

  it("applies inline constraints, which beat the rule's wildcard_constraints", () => {
    const p = compilePattern("m/{seed,\\d+}_{name}.pt", { seed: "[a-z]+", name: "[a-z]+" });
    expect(p.match("m/12_abc.pt")).toEqual({ seed: "12", name: "abc" });
    expect(p.match("m/12_ABC.pt")).toBeNull();
    expect(p.match("m/x_abc.pt")).toBeNull();
    expect(p.constraints).toEqual(["\\d+", "[a-z]+"]);
  });

  it("allows one level of braces inside a constraint", () => {
    const p = compilePattern("{code,[A-Z]{3}}.txt");
    expect(p.match("ABC.txt")).toEqual({ code: "ABC" });
    expect(p.match("ABCD.txt")).toBeNull();
  });

  it("makes a repeated wildcard take the same value", () => {
    const p = compilePattern("{s}/{s}.bam");
    expect(p.names).toEqual(["s"]);
    expect(p.match("a/a.bam")).toEqual({ s: "a" });
    expect(p.match("a/b.bam")).toBeNull();
    expect(p.format({ s: "x" })).toBe("x/x.bam");
  });

  it("escapes regex metacharacters in literal parts", () => {
    const p = compilePattern("data (v1.2)/[x]+{id}.c++$^|?*");
    expect(p.match("data (v1.2)/[x]+7.c++$^|?*")).toEqual({ id: "7" });
    expect(p.match("data (v1x2)/[x]+7.c++$^|?*")).toBeNull();
    expect(p.match("data v1.2/x7.c$")).toBeNull();
    const lit = compilePattern("a.b");
    expect(lit.isLiteral).toBe(true);
    expect(lit.match("a.b")).toEqual({});
    expect(lit.match("axb")).toBeNull();
  });

  it("reports which constraint a path breaks", () => {
    const p = compilePattern("m/{model,[a-z]+}.pt");
    expect(p.violation("m/A1.pt")).toEqual({ wildcard: "model", value: "A1", regex: "[a-z]+" });
    expect(p.violation("x/A1.pt")).toBeUndefined();
  });

  it("rejects malformed patterns with a message naming the pattern", () => {
    expect(() => compilePattern("a/{x.txt", {}, "Rule 'r' output")).toThrow(/Rule 'r' output: unclosed '\{' in pattern 'a\/\{x.txt'/);
    expect(() => compilePattern("a/x}.txt")).toThrow(/unmatched '\}'/);
    expect(() => compilePattern("a/{1x}.txt")).toThrow(CorralError);
    expect(() => compilePattern("a/{__proto__}.txt")).toThrow(CorralError);
    expect(() => compilePattern("a/{x,(}.txt")).toThrow(/invalid regex/);
  });

  it("throws when formatting without a value", () => {
    expect(() => compilePattern("{a}/{b}").format({ a: "1" })).toThrow(/no value for wildcard 'b'/);
  });

  it("lists names without compiling", () => {
    expect(wildcardNames("{a}/{b,\\d+}/{a}")).toEqual(["a", "b"]);
  });
});

describe("PatternIndex", () => {
  it("finds every matching pattern, literal and wildcard, in registration order", () => {
    const idx = new PatternIndex<string>();
    idx.add(compilePattern("b/{i}.txt"), "rb");
    idx.add(compilePattern("{any}.txt"), "rany");
    idx.add(compilePattern("b/1.txt"), "rlit");
    idx.add(compilePattern("b/{i}.csv"), "rcsv");
    idx.add(compilePattern("c/{i}.txt"), "rc");
    expect(idx.lookup("b/1.txt").map((m) => m.entry.value)).toEqual(["rb", "rany", "rlit"]);
    expect(idx.lookup("b/2.csv").map((m) => m.entry.value)).toEqual(["rcsv"]);
    expect(idx.lookup("c/2.txt").map((m) => [m.entry.value, m.wildcards])).toEqual([
      ["rany", { any: "c/2" }],
      ["rc", { i: "2" }],
    ]);
    expect(idx.lookup("d/2.bin")).toEqual([]);
  });

  it("handles constraints that allow an empty value", () => {
    const idx = new PatternIndex<number>();
    idx.add(compilePattern("x{opt,.*}.txt"), 1);
    expect(idx.lookup("x.txt").map((m) => m.wildcards)).toEqual([{ opt: "" }]);
  });

  it("looks up 100k paths against many rules correctly (speed: bench/dag-plan.mjs)", () => {
    const idx = new PatternIndex<number>();
    for (let r = 0; r < 200; r++) idx.add(compilePattern(`step${r}/{i}.out`), r);
    let hits = 0;
    for (let i = 0; i < 100_000; i++) hits += idx.lookup(`step${i % 200}/${i}.out`).length;
    expect(hits).toBe(100_000);
    // With a linear scan this is 20M regex runs; bucketing keeps it to one each.
  });
});
