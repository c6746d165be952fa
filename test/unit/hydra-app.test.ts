import { describe, expect, it } from "vitest";
import { hydraRunArgs, hydraValue, usesHydra } from "../../src/plan/hydra-app.js";

describe("what a Hydra app is handed besides its overrides", () => {
  it("its run folder as hydra.run.dir, its index as hydra.job.num, its id as hydra.job.id", () => {
    expect(hydraRunArgs({ index: 3, id: "ab12cd34ef56", dir: "/s/multirun/2026-12-01/10-00-00-000000/3" })).toEqual([
      "hydra.run.dir=/s/multirun/2026-12-01/10-00-00-000000/3",
      "hydra.job.num=3",
      "hydra.job.id=ab12cd34ef56",
    ]);
  });

  it("leaves out what the user set on the command line (theirs wins)", () => {
    expect(hydraRunArgs({ index: 1, id: "x", dir: "/r/1" }, ["lr=0.1", "hydra.run.dir=mine", "+hydra.job.id=7"])).toEqual(["hydra.job.num=1"]);
  });

  it("quotes a path Hydra's grammar would split or retype (spaces, commas, =, quotes), escaping as its quoted strings do", () => {
    expect(hydraValue("/a b/c,d=e")).toBe("'/a b/c,d=e'");
    expect(hydraValue("/it's\\here")).toBe("'/it\\'s\\\\here'");
    expect(hydraValue("/plain/path-1.2_x")).toBe("/plain/path-1.2_x");
  });

  it("detects Hydra's entry point in Python source, not the word hydra in a comment", () => {
    expect(usesHydra("import hydra\n\n@hydra.main(version_base=None)\ndef main(cfg): ...\n")).toBe(true);
    expect(usesHydra("from hydra import compose\n")).toBe(true);
    expect(usesHydra("# uses no hydra at all\nimport argparse\n")).toBe(false);
  });
});
