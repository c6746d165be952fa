/** `corral config`: the composed config of one run (Hydra's --cfg). */
import { Option, type Command } from "commander";
import { composeForDisplay } from "../../engine/config-view.js";
import { ConfigFloat } from "../../plan/float.js";
import { configToJson, configToYaml } from "../../plan/serialize.js";
import { openProject } from "../../project/open.js";
import { projectLocation } from "../args.js";
import type { CommandContext } from "./context.js";

export function registerConfig(program: Command, ctx: CommandContext): void {
  program
    .command("config")
    .description("show the composed config of one run (Hydra's --cfg)")
    .argument("[overrides...]", "overrides as for `corral run`")
    .addOption(new Option("--cfg <what>", "job: the run's config; all: with the corral settings in force").choices(["job", "all"]).default("job"))
    .option("-p, --package <key>", "only this dotted key")
    .option("--json", "JSON instead of YAML")
    .action(async (overrides: string[], o: { cfg: "job" | "all"; package?: string; json?: boolean }) => {
      const project = await openProject({ ...projectLocation(ctx.globals()).open, allowMissing: false, overrides });
      const value = composeForDisplay(project, overrides, { cfg: o.cfg, ...(o.package ? { key: o.package } : {}), env: process.env, now: new Date() });
      // Floats stay floats (`1.0`), and strings YAML would read as dates, bools or numbers are quoted.
      const container = typeof value === "object" && value !== null && !(value instanceof ConfigFloat);
      process.stdout.write(o.json ? configToJson(value) + "\n" : container ? configToYaml(value) : `${String(value)}\n`);
    });
}
