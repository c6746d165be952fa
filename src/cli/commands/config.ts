/** `corral config`: the composed config of one run (Hydra's --cfg). */
import type { Command } from "commander";
import { addTableOptions, type TableOpts } from "../options.js";
import { composeForDisplay } from "../../engine/config-view.js";
import { ConfigFloat } from "../../plan/float.js";
import { configToJson } from "../../plan/json.js";
import { configToYaml } from "../../plan/serialize.js";
import { openProject } from "../../project/open.js";
import { projectLocation } from "../args.js";
import type { CommandContext } from "./context.js";

type ConfigOpts = Pick<TableOpts, "cfg" | "package" | "json" | "profile">;

export function registerConfig(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command("config")
    .description("show the composed config of one run (Hydra's --cfg)")
    .argument("[overrides...]", "overrides as for `corral run` (+profile=NAME applies a profile, as -P does)");
  addTableOptions(cmd, "config").action(async (args: string[], o: ConfigOpts) => {
    // Profiles as `corral run` takes them: -P, and +profile=NAME among the overrides (not a config key).
    const plusProfile = args.filter((x) => x.startsWith("+profile="));
    const profiles = [...(o.profile ? o.profile.split(",") : []), ...plusProfile.map((x) => x.slice("+profile=".length))].filter(Boolean);
    const overrides = args.filter((x) => !x.startsWith("+profile="));
    const project = await openProject({ ...projectLocation(ctx.globals()).open, allowMissing: false, profiles, overrides });
    const cfg = o.cfg ?? "job";
    const value = composeForDisplay(project, overrides, { cfg, ...(o.package ? { key: o.package } : {}), env: process.env, now: new Date() });
    // Floats stay floats (`1.0`), and strings YAML would read as dates, bools or numbers are quoted.
    const container = typeof value === "object" && value !== null && !(value instanceof ConfigFloat);
    process.stdout.write(o.json ? configToJson(value) + "\n" : container ? configToYaml(value) : `${String(value)}\n`);
  });
}
