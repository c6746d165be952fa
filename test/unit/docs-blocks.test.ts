/** The parser behind the docs test: fenced blocks, their annotations, shell lines and `# exit N`. */
import { describe, expect, it } from "vitest";
import { parseBlocks, shellLines, splitComment } from "../docs-blocks.js";

describe("docs blocks", () => {
  it("finds every fenced block with its language, line and the annotations right before it", () => {
    const md = [
      "# Page", // 1
      "<!-- test: skip (needs a browser) -->", // 2
      "```bash", // 3
      "corral ui", // 4
      "```", // 5
      "text between", // 6
      "<!-- test: file conf/model/small.yaml -->", // 7
      "<!-- test: given conf/x.yaml conf/y.yaml -->", // 8
      "```yaml", // 9
      "hidden: 8", // 10
      "```", // 11
      "```", // 12
      "plain output", // 13
      "```", // 14
    ].join("\n");
    const blocks = parseBlocks(md);
    expect(blocks.map((b) => [b.line, b.lang])).toEqual([
      [3, "bash"],
      [9, "yaml"],
      [12, ""],
    ]);
    expect(blocks[0]!.annotations).toEqual([{ kind: "skip", reason: "needs a browser" }]);
    expect(blocks[1]!.annotations).toEqual([
      { kind: "file", path: "conf/model/small.yaml" },
      { kind: "given", paths: ["conf/x.yaml", "conf/y.yaml"] },
    ]);
    expect(blocks[1]!.text).toBe("hidden: 8\n");
    expect(blocks[2]!.annotations).toEqual([]);
  });

  it("an annotation separated from its block by text annotates nothing; bad annotations are errors", () => {
    expect(parseBlocks("<!-- test: output -->\nprose\n```text\nx\n```\n")[0]!.annotations).toEqual([]);
    expect(() => parseBlocks("<!-- test: skip -->\n```bash\nx\n```\n")).toThrow(/needs a reason/);
    expect(() => parseBlocks("<!-- test: sometimes -->\n```bash\nx\n```\n")).toThrow(/line 1: unknown annotation/);
    expect(() => parseBlocks("```bash\nx\n")).toThrow(/never closed/);
  });

  it("shell lines: comments removed outside quotes, `# exit N` is the expected status, console keeps only `$ ` lines", () => {
    const [b] = parseBlocks("```bash\ncorral run -m seed='range(3)'   # a sweep\n\ncorral logs 99  # exit 2: no such run\necho '#not a comment'\n```\n");
    expect(shellLines(b!)).toEqual([
      { line: 2, cmd: "corral run -m seed='range(3)'", exit: 0 },
      { line: 4, cmd: "corral logs 99", exit: 2 },
      { line: 5, cmd: "echo '#not a comment'", exit: 0 },
    ]);
    const [c] = parseBlocks("```console\n$ corral status\n2 running\n$ corral cancel\n```\n");
    expect(shellLines(c!).map((l) => l.cmd)).toEqual(["corral status", "corral cancel"]);
    expect(splitComment("a#b # c")).toEqual({ cmd: "a#b ", comment: " c" });
  });
});
