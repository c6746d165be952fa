import { describe, expect, it } from "vitest";
import { resolveInterpolations, strftime } from "../../src/plan/interpolate.js";
import { MAX_INTERPOLATION_DEPTH, MAX_NESTING_DEPTH } from "../../src/plan/limits.js";
import type { ConfigMap } from "../../src/plan/types.js";
import { thrownCorralError } from "../helpers.js";

// Local time on purpose: `${now:...}` formats in the resolving process's time zone.
const NOW = new Date(2024, 2, 5, 7, 8, 9, 123); // 2024-03-05 07:08:09.123, a Tuesday
const ctx = { env: { HOME: "/home/u", EMPTY: "", PORT: "8080" } as Record<string, string | undefined>, now: NOW };
const resolve = (c: ConfigMap) => resolveInterpolations(c, ctx);

const thrown = thrownCorralError;

describe("resolveInterpolations", () => {
  it("keeps the referenced type for a whole-string reference", () => {
    const out = resolve({ seed: 3, lr: 0.5, flag: true, none: null, opt: { a: [1, 2] }, s: "${seed}", l: "${lr}", f: "${flag}", n: "${none}", o: "${opt}", e: "${opt.a.1}" });
    expect(out).toMatchObject({ s: 3, l: 0.5, f: true, n: null, o: { a: [1, 2] }, e: 2 });
  });

  it("copies referenced containers instead of aliasing them", () => {
    const out = resolve({ a: { x: [1] }, b: "${a}" });
    (out.b as { x: number[] }).x.push(2);
    expect(out.a).toEqual({ x: [1] });
  });

  it("splices references into longer strings", () => {
    const out = resolve({ seed: 7, name: "resnet", run: "run_${name}_s${seed}", n: "x${none}", none: null, b: "${flag}!", flag: false, l: "l=${lst}", lst: [1, "a"] });
    expect(out).toMatchObject({ run: "run_resnet_s7", n: "xnull", b: "false!", l: 'l=[1,"a"]' });
  });

  it("resolves chains, references through interpolated nodes, and relative keys", () => {
    const out = resolve({
      a: "${b}",
      b: "${c.d}",
      c: { d: 5, e: "${.d}", f: { g: "${..d}" } },
      alias: "${c}",
      via: "${alias.d}",
      lst: [10, "${.0}"],
    });
    expect(out).toMatchObject({ a: 5, b: 5, c: { d: 5, e: 5, f: { g: 5 } }, via: 5, lst: [10, 10] });
    // Relative keys inside a referenced container stay relative to where the container lives.
    expect(out.alias).toEqual({ d: 5, e: 5, f: { g: 5 } });
  });

  it("resolves nested interpolations inside a key", () => {
    const out = resolve({ which: "b", opts: { a: 1, b: 2 }, pick: "${opts.${which}}" });
    expect(out.pick).toBe(2);
    expect(thrown(() => resolve({ a: "${}" })).message).toBe("Empty interpolation key in '${}'");
  });

  it("does not mutate its input and leaves plain strings alone", () => {
    const input: ConfigMap = { a: 1, b: "${a}", c: "plain $ {not} {x}" };
    const before = JSON.stringify(input);
    const out = resolve(input);
    expect(JSON.stringify(input)).toBe(before);
    expect(out.c).toBe("plain $ {not} {x}");
  });

  it("reads the environment, with and without defaults", () => {
    const out = resolve({
      home: "${oc.env:HOME}",
      path: "${oc.env:HOME}/data",
      empty: "${oc.env:EMPTY,fallback}",
      d1: "${oc.env:NOPE,fallback}",
      d2: "${oc.env:NOPE,'a, b'}",
      d3: "${oc.env:NOPE,007}",
      d4: "${oc.env:NOPE,null}",
      d5: "${oc.env:NOPE,${other}/x}",
      d6: "${oc.env:NOPE,${n}}",
      port: "${oc.env:PORT}",
      other: "o",
      n: 5,
    });
    expect(out).toMatchObject({ home: "/home/u", path: "/home/u/data", empty: "", d1: "fallback", d2: "a, b", d3: "007", d4: null, d5: "o/x", d6: "5", port: "8080" });
  });

  it("fails on a missing environment variable without default", () => {
    const e = thrown(() => resolve({ a: { b: "${oc.env:NOPE_VAR}" } }));
    expect(e.code).toBe("E_INTERPOLATION");
    expect(e.message).toContain("Environment variable 'NOPE_VAR' not found");
    expect(e.location?.key).toBe("a.b");
  });

  it("formats ${now:...} from the injected clock", () => {
    const out = resolve({ d: "${now:%Y-%m-%d_%H-%M-%S}", dir: "outputs/${now:%Y-%m-%d}/${now:%H-%M-%S}", f: "${now:%f %j %y %b %a %%}", def: "${now:}" });
    expect(out.d).toBe("2024-03-05_07-08-09");
    expect(out.dir).toBe("outputs/2024-03-05/07-08-09");
    expect(out.f).toBe("123000 065 24 Mar Tue %");
    expect(out.def).toBe("2024-03-05_07-08-09");
    expect(strftime("%Q", NOW)).toBe("%Q");
  });

  it("supports oc.select with defaults and oc.decode", () => {
    const out = resolve({
      a: { b: 1 },
      s1: "${oc.select:a.b,9}",
      s2: "${oc.select:a.nope,9}",
      s3: "${oc.select:a.nope}",
      s4: "${oc.select:a.nope,'x'}",
      d1: "${oc.decode:'123'}",
      d2: "${oc.decode:${oc.env:PORT}}",
      d3: "${oc.decode:'[1, true, {k: v}]'}",
      d4: "${oc.decode:'null'}",
    });
    expect(out).toMatchObject({ s1: 1, s2: 9, s3: null, s4: "x", d1: 123, d2: 8080, d3: [1, true, { k: "v" }], d4: null });
  });

  it("honours \\${ escapes", () => {
    const out = resolve({ a: 1, e: "\\${a}", mixed: "${a} and \\${a}", bs: "\\\\${a}" });
    expect(out).toMatchObject({ e: "${a}", mixed: "1 and ${a}", bs: "\\1" });
  });

  it("reports a missing key with the interpolation and the path being resolved", () => {
    const e = thrown(() => resolve({ model: { lr: 1 }, opt: { lr: "${model.lrr}" } }));
    expect(e.code).toBe("E_INTERPOLATION");
    expect(e.message).toBe("Interpolation key 'model.lrr' not found (in '${model.lrr}')");
    expect(e.location?.key).toBe("opt.lr");
    expect(e.hint).toContain("lr");
  });

  it("detects cycles and names the chain", () => {
    const e = thrown(() => resolve({ a: "${b}", b: "x${c}", c: "${a}" }));
    expect(e.message).toBe("Interpolation cycle: a -> b -> c -> a");
    expect(thrown(() => resolve({ a: "${a}" })).message).toBe("Interpolation cycle: a -> a");
    expect(thrown(() => resolve({ a: { x: "${a}" } })).message).toBe("Interpolation cycle: a.x -> a -> a.x");
  });

  it("rejects unknown resolvers, malformed syntax and references to ??? values", () => {
    expect(thrown(() => resolve({ a: "${oc.nope:1}" })).message).toContain("Unsupported interpolation resolver 'oc.nope'");
    const bad = thrown(() => resolve({ k: { a: "${b" } }));
    expect(bad.message).toContain("Invalid interpolation");
    expect(bad.location?.key).toBe("k.a");
    expect(thrown(() => resolve({ m: "???", a: "${m}" })).message).toContain("missing a mandatory value");
    // A ??? value that nobody references stays as it is.
    expect(resolve({ m: "???" })).toEqual({ m: "???" });
  });

  it("resolves the same template consistently across many configs (cache is per text, not per value)", () => {
    for (let i = 0; i < 50; i++) {
      expect(resolve({ seed: i, name: "run_${seed}" }).name).toBe(`run_${i}`);
    }
  });
});

describe("interpolation limits (issue 11)", () => {
  const forward = (n: number): ConfigMap => {
    const c: ConfigMap = { a0: 1 };
    for (let i = 1; i < n; i++) c[`a${i}`] = `\${a${i - 1}}`;
    return c;
  };
  const backward = (n: number): ConfigMap => {
    const c: ConfigMap = {};
    for (let i = 0; i < n - 1; i++) c[`a${i}`] = `\${a${i + 1}}`;
    c[`a${n - 1}`] = 1;
    return c;
  };

  it("resolves chains up to MAX_INTERPOLATION_DEPTH links in either key order", () => {
    // n keys hold n - 1 interpolated strings.
    expect(resolve(forward(MAX_INTERPOLATION_DEPTH + 1))[`a${MAX_INTERPOLATION_DEPTH}`]).toBe(1);
    expect(resolve(backward(MAX_INTERPOLATION_DEPTH + 1)).a0).toBe(1);
  });

  it.each([
    ["written in order", forward(2000), "a501"],
    ["written backwards", backward(2000), "a0"],
    ["one link too long", backward(MAX_INTERPOLATION_DEPTH + 2), "a0"],
  ])("refuses a chain %s with one message naming the key", (_what, config, key) => {
    const e = thrown(() => resolve(config));
    expect(e.code).toBe("E_INTERPOLATION");
    expect(e.location?.key).toBe(key);
    expect(e.message).toMatch(new RegExp(`^Interpolation chain longer than ${MAX_INTERPOLATION_DEPTH} links: ${key} -> `));
    expect(e.message.length).toBeLessThan(200);
    expect(e.hint).toBeDefined();
  });

  it("counts chains through containers", () => {
    const c: ConfigMap = { end: 1 };
    for (let i = 0; i < 1000; i++) c[`c${i}`] = { v: i === 999 ? "${end}" : `\${c${i + 1}}` };
    const e = thrown(() => resolve(c));
    expect(e.message).toMatch(/Interpolation chain longer than/);
  });

  it("refuses ${...} nested deeper than MAX_NESTING_DEPTH", () => {
    const e = thrown(() => resolve({ k: "k", v: "${".repeat(3000) + "k" + "}".repeat(3000) }));
    expect(e.code).toBe("E_INTERPOLATION");
    expect(e.location?.key).toBe("v");
    expect(e.message).toMatch(new RegExp(`nest more than ${MAX_NESTING_DEPTH} levels`));
    expect(e.message.length).toBeLessThan(400);
  });
});

describe("${hydra:...}: Hydra's runtime values", () => {
  it("are kept as written for the app to resolve (as Hydra keeps them in .hydra/config.yaml), alone or in a longer string", () => {
    const out = resolveInterpolations({ cwd: "${hydra:runtime.cwd}", data: "${hydra:runtime.cwd}/data", tag: "run_${hydra:job.num}", ref: "${data}" }, ctx);
    expect(out).toEqual({ cwd: "${hydra:runtime.cwd}", data: "${hydra:runtime.cwd}/data", tag: "run_${hydra:job.num}", ref: "${hydra:runtime.cwd}/data" });
  });
});
