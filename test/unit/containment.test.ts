import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { launchPageHtml } from "../../src/dashboard/launchpage.js";
import { hostAllowedFor } from "../../src/dashboard/server.js";
import { MAX_SWEEP_NAME, sweepNameProblem } from "../../src/plan/names.js";
import { locateWithin, readWithin, sizeWithin } from "../../src/store/contain.js";

describe("sweepNameProblem", () => {
  it("accepts one folder name of safe characters", () => {
    for (const n of ["a", "lr-sweep_v2.1", "bert=large,seed@3+x", "A".repeat(MAX_SWEEP_NAME), "9", "_x"]) expect(sweepNameProblem(n), n).toBeUndefined();
  });
  it("refuses separators, dot folders, control characters, odd characters and long names", () => {
    const cases: Array<[string, RegExp]> = [
      ["", /empty/],
      ["..", /relative folder/],
      [".", /relative folder/],
      ["../../tmp/x", /separator/],
      ["/tmp/x", /separator/],
      ["a\\b", /separator/],
      ["a\0b", /control/],
      ["a\nb", /control/],
      ["x".repeat(MAX_SWEEP_NAME + 1), /at most 100/],
      ["-rf", /not first/],
      [".hidden", /not first/],
      ["a b", /only letters/],
      ["$(id)", /only letters/],
      ["é", /only letters/],
    ];
    for (const [n, re] of cases) expect(sweepNameProblem(n), JSON.stringify(n)).toMatch(re);
  });
});

describe("hostAllowedFor", () => {
  it("a loopback server answers to its loopback names with its port only", () => {
    const ok = hostAllowedFor("127.0.0.1", 8080);
    for (const h of ["127.0.0.1:8080", "localhost:8080", "LocalHost:8080", "[::1]:8080"]) expect(ok(h), h).toBe(true);
    for (const h of ["", "127.0.0.1", "localhost", "evil.example:8080", "127.0.0.1:8081", "localhost.:8080", "127.0.0.1:8080.evil.example"]) expect(ok(h), h).toBe(false);
  });
  it("port 80 also without the port; a named address with it; a wildcard bind answers to any", () => {
    expect(hostAllowedFor("127.0.0.1", 80)("localhost")).toBe(true);
    const lan = hostAllowedFor("192.168.1.5", 9000);
    expect(lan("192.168.1.5:9000")).toBe(true);
    expect(lan("evil.example:9000")).toBe(false);
    expect(hostAllowedFor("::1", 9000)("[::1]:9000")).toBe(true);
    expect(hostAllowedFor("0.0.0.0", 9000)("anything:1")).toBe(true);
  });
});

describe("launchPageHtml", () => {
  it("redirects to the URL, and a hostile URL cannot break out of the script or the attribute", () => {
    const html = launchPageHtml("http://127.0.0.1:1/?token=abc");
    expect(html).toContain('window.location.replace("http://127.0.0.1:1/?token=abc")');
    const bad = launchPageHtml('http://x/"></script><script>alert(1)</script>');
    expect(bad).not.toContain("<script>alert");
    expect(bad.match(/<\/script>/g)).toHaveLength(1);
  });
});

describe("readWithin", () => {
  let base: string;
  let root: string;
  beforeEach(() => {
    base = mkdtempSync(path.join(tmpdir(), "corral-within-"));
    root = path.join(base, "root");
    mkdirSync(path.join(root, "run"), { recursive: true });
    writeFileSync(path.join(base, "secret"), "secret");
    writeFileSync(path.join(root, "run", "log"), "0123456789");
    symlinkSync("../../secret", path.join(root, "run", "out"));
    symlinkSync("log", path.join(root, "run", "in"));
    symlinkSync("nowhere", path.join(root, "run", "dangling"));
    symlinkSync("loop", path.join(root, "run", "loop"));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it("reads files (and in-root links) inside, ranges clamped", () => {
    expect(readWithin(root, path.join(root, "run", "log"), { start: 2, end: 5 })).toMatchObject({ kind: "ok", size: 10 });
    const r = readWithin(root, path.join(root, "run", "in"), { start: 8, end: 100 });
    expect(r.kind === "ok" && r.data.toString()).toBe("89");
    expect(sizeWithin(root, path.join(root, "run", "log"))).toBe(10);
  });
  it("refuses links out, folders, and a root reached through its own real path", () => {
    expect(readWithin(root, path.join(root, "run", "out"))).toEqual({ kind: "outside" });
    expect(sizeWithin(root, path.join(root, "run", "out"))).toBe("outside");
    expect(readWithin(root, path.join(root, "run"))).toEqual({ kind: "outside" });
    expect(locateWithin(path.join(root, "run"), path.join(root, "run", "..", "..", "secret"))).toBe("outside");
  });
  it("missing, dangling and looping links are just missing", () => {
    for (const f of ["nope", "dangling", "loop"]) expect(readWithin(root, path.join(root, "run", f)), f).toEqual({ kind: "missing" });
    expect(sizeWithin(root, path.join(root, "run", "nope"))).toBe(-1);
  });
  it("a root that is itself a symlink contains what its real folder contains", () => {
    const link = path.join(base, "link");
    symlinkSync(root, link);
    expect(readWithin(link, path.join(link, "run", "log")).kind).toBe("ok");
    expect(readWithin(link, path.join(link, "run", "out")).kind).toBe("outside");
  });
});
