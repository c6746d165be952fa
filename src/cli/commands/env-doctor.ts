/** `corral env` (what applies here and why) and `corral doctor` (what will happen, what is missing). */
import type { Command } from "commander";
import { projectLocation, type GlobalOpts } from "../args.js";
import { exitCodeOf } from "../exit.js";
import { addTableOptions, type TableOpts } from "../options.js";
import type { CommandContext } from "./context.js";
import { stringify as toYaml } from "yaml";
import { runDoctor, realHost, type Check } from "../../engine/doctor.js";
import { envReport } from "../../engine/envinfo.js";
import { openProject } from "../../project/open.js";
import { CorralError } from "../../errors.js";
import { dim, green, red } from "../reporter.js";


type Flags = Pick<TableOpts, "profile" | "launcher" | "json" | "probe">;

const open = (g: GlobalOpts, o: Flags) =>
  openProject({
    ...projectLocation(g).open,
    allowMissing: false,
    profiles: o.profile ? o.profile.split(",").filter(Boolean) : [],
  });

/**
 * Add `corral env` and `corral doctor` to the program. `ctx.setExit` receives doctor's exit code
 * (1 when a check fails).
 */
export function registerEnvDoctorCommands(program: Command, ctx: CommandContext): void {
  const globals = ctx.globals;
  addTableOptions(program.command("env").description("which profile applies and why, the resolved launcher settings, paths, container, CPUs and GPUs"), "env")
    .action(async (o: Flags) => {
      const project = await open(globals(), o);
      const r = envReport(project, process.env, o.launcher ? { launcher: o.launcher } : {});
      if (o.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + "\n");
        return;
      }
      const w = (s: string): boolean => process.stdout.write(s + "\n");
      w(`project   ${r.project}`);
      w(`host      ${r.hostname}`);
      if (r.profiles.length) for (const p of r.profiles) w(`profile   ${p.name}  ${dim(`(${p.reason})`)}`);
      else w(`profile   none${r.available.length ? dim(` (available: ${r.available.join(", ")}; none detected, choose with -P)`) : ""}`);
      w(`cpus      ${r.cpus.count} ${dim(`[${r.cpus.ids.join(",")}]`)}`);
      w(`gpus      ${r.gpus.ids.length ? r.gpus.ids.join(",") : "none"} ${dim(`(${r.gpus.source})`)}`);
      w(`node      ${r.node}`);
      const section = (name: string, v: unknown): void => {
        const empty = v === null || (typeof v === "object" && Object.keys(v as object).length === 0);
        if (empty) return void w(`${name.padEnd(9)} ${dim("none")}`);
        w(`${name}:`);
        process.stdout.write(toYaml(v).replace(/^(?=.)/gm, "  "));
      };
      section("launcher", r.launcher);
      section("resources", r.resources);
      section("paths", r.paths);
      section("container", r.container);
      section("env", r.env);
    });

  addTableOptions(program.command("doctor").description("check, for the chosen profile, what will happen and what is missing; exit 1 when something is"), "doctor")
    .action(async (o: Flags) => {
      let checks: Check[];
      try {
        const project = await open(globals(), o);
        if (o.probe !== undefined && (o.launcher ?? project.config.launcher.type) !== "slurm") {
          throw new CorralError("E_USAGE", "--probe submits a SLURM job: it needs the SLURM launcher", { hint: "add --launcher slurm, or choose a profile that sets launcher.type: slurm (-P NAME)" });
        }
        const probe = o.probe === undefined ? {} : { probeTimeoutS: o.probe === true ? 300 : o.probe };
        checks = await runDoctor(project, { ...(o.launcher ? { launcher: o.launcher } : {}), ...probe }, realHost(process.env));
      } catch (e) {
        if (!(e instanceof CorralError) || e.code === "E_USAGE") throw e;
        // An invalid project file is a finding of its own, not a crash of the doctor.
        checks = [{ ok: false, title: "the project file is invalid", detail: e.format(), ...(e.hint ? { hint: e.hint } : {}) }];
      }
      if (o.json) process.stdout.write(JSON.stringify(checks, null, 2) + "\n");
      else {
        for (const c of checks) {
          process.stdout.write(`${c.ok ? green("✓") : red("✗")} ${c.title}${c.detail ? dim(`  ${c.detail}`) : ""}\n`);
          if (!c.ok && c.hint) process.stdout.write(`    ${dim("hint:")} ${c.hint}\n`);
        }
        const bad = checks.filter((c) => !c.ok).length;
        process.stdout.write(bad ? red(`${bad} problem${bad > 1 ? "s" : ""} found\n`) : green("all good\n"));
      }
      ctx.setExit(exitCodeOf({ failures: checks.filter((c) => !c.ok).length }));
    });
}
