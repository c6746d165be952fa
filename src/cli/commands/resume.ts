/** `corral resume`: rerun what did not finish, adopting what still runs; flows go to their head. */
import type { Command } from "commander";
import path from "node:path";
import { projectDrift, rerunCandidates, resumeSweep, type CurrentRecipe } from "../../engine/launch.js";
import type { TrialComposer } from "../../engine/study.js";
import { readSweepStatus } from "../../engine/inspect.js";
import { CorralError, countOf } from "../../errors.js";
import { makeLauncher } from "../../launchers/registry.js";
import { openProject, type ProjectContext } from "../../project/open.js";
import { readManifest, readStudyRecipe, resolveSweep } from "../../store/store.js";
import { studyRecipeFile } from "../../store/layout.js";
import { recipeComposer } from "../../worker/trials.js";
import { projectDirOf } from "../args.js";
import { attach } from "../attach.js";
import { addTableOptions, type TableOpts } from "../options.js";
import { makeTerminalReporter } from "../reporter.js";
import type { CommandContext } from "./context.js";

type ResumeOpts = Pick<TableOpts, "retryFailed" | "retryUnknown" | "useCurrentProject" | "asRecorded" | "jobs" | "detach" | "json">;

export function registerResume(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command("resume")
    .description("rerun what did not finish (adopting runs still queued or running); never reruns a succeeded run")
    .argument("[sweep]", "sweep folder, id or name (default: the latest)");
  addTableOptions(cmd, "resume").action(async (sweep: string | undefined, o: ResumeOpts) => {
    const dir = resolveSweep(projectDirOf(ctx.globals()), sweep);
    if (readManifest(dir).kind === "flow" && (o.useCurrentProject || o.asRecorded)) {
      throw new CorralError("E_USAGE", `${o.useCurrentProject ? "--use-current-project" : "--as-recorded"} is for sweeps; ${dir} is a pipeline`, {
        hint: "a pipeline reruns with the project as it is now through `corral flow` (its up-to-date jobs are skipped); `corral resume` continues it as recorded",
      });
    }
    if (readManifest(dir).kind === "flow") return ctx.setExit(await (await import("./flow.js")).resumeFlow(dir, o));
    if (o.useCurrentProject && o.asRecorded) throw new CorralError("E_USAGE", "--use-current-project and --as-recorded exclude each other", { hint: "choose one: rerun with the project as it is now, or as the sweep recorded it" });
    // Rerunning with the current project is for runs the old one failed: it retries failed runs too.
    const retryFailed = Boolean(o.retryFailed || o.useCurrentProject);
    const current = await currentRecipe(dir, { retryFailed, retryUnknown: Boolean(o.retryUnknown), use: Boolean(o.useCurrentProject), asRecorded: Boolean(o.asRecorded) });
    const reporter = makeTerminalReporter({ json: Boolean(o.json), quiet: false });
    const compose = studyComposer(dir);
    const r = await resumeSweep({ sweepDir: dir, retryFailed, ...(compose ? { compose } : {}), ...(o.retryUnknown ? { retryUnknown: true } : {}), ...(o.jobs ? { jobs: o.jobs } : {}), ...(current ? { current } : {}) }, reporter, { ...(o.detach ? { detach: true } : {}) });
    const { found, resubmitted } = await r.submitted;
    process.stderr.write(`corral: ${found.succeeded} already succeeded, ${found.adopted} still queued or running (adopted), ${resubmitted} resubmitted\n`);
    if (o.detach) {
      await r.done;
      reporter.close();
      return;
    }
    ctx.setExit(await attach(r, reporter));
  });
}

/** A study with trials still to make: its trials are composed from the recipe its sweep folder keeps (the project as the study started). */
function studyComposer(dir: string): TrialComposer | undefined {
  const m = readManifest(dir);
  if (!m.search || m.runs.length >= m.search.budget) return undefined;
  const left = m.search.budget - m.runs.length;
  if (m.search.sampler === "custom") throw new CorralError("E_USAGE", `${left} ${left === 1 ? "trial of this study is" : "trials of this study are"} still to be asked, and its sampler was a library caller's own`, { hint: "a study driven by the library is continued by the library; corral status and corral results still read it", exitCode: 2 });
  const recipe = readStudyRecipe(dir);
  if (!recipe) throw new CorralError("E_STORAGE", `${studyRecipeFile(dir)} is missing or unreadable: the study's further trials cannot be composed`, { hint: "start a new study; corral status and corral results still read this one", exitCode: 1 });
  return recipeComposer(recipe, process.env);
}

/**
 * Compare the sweep's record with the project as it is now, for the runs this resume would start
 * again. Unchanged: undefined (resume as recorded). Changed: with --use-current-project the
 * current recipe; with --as-recorded undefined; with neither, exit 2 naming the changes and both
 * ways forward, before anything starts. A project that cannot be read now is only an error when
 * --use-current-project asks for it.
 */
async function currentRecipe(dir: string, o: { retryFailed: boolean; retryUnknown: boolean; use: boolean; asRecorded: boolean }): Promise<CurrentRecipe | undefined> {
  const m = readManifest(dir);
  const st = await readSweepStatus(dir, makeLauncher(m.settings));
  const runs = rerunCandidates(st.runs, o);
  if (runs.length === 0) return undefined;
  let project: ProjectContext;
  try {
    project = await openProject({ cwd: m.projectDir, allowMissing: false, profiles: m.profile ? m.profile.split(",") : [] });
  } catch (e) {
    if (o.use) throw e;
    return undefined;
  }
  let drift;
  try {
    drift = projectDrift(m, project, runs, process.env);
  } catch (e) {
    if (o.use) throw e;
    if (o.asRecorded) return undefined;
    throw new CorralError("E_USAGE", `the project changed since this sweep was created: ${(e as Error).message}`, { hint: "rerun as recorded with --as-recorded, or fix the project" });
  }
  const rel = path.relative(process.cwd(), m.dir) || ".";
  const changed = drift.changes.map((c) => `\n  ${c}`).join("");
  if (!drift.changes.length) {
    if (o.use) process.stderr.write("corral: the project has not changed since this sweep was created; rerunning as recorded\n");
    return undefined;
  }
  if (o.use) {
    process.stderr.write(`corral: rerunning ${countOf(runs.length, "run")} with the current project (new attempts, same overrides; succeeded runs are kept):${changed}\n`);
    return drift.current;
  }
  if (o.asRecorded) {
    process.stderr.write(`corral: the project changed since this sweep was created; rerunning ${countOf(runs.length, "run")} as recorded (--as-recorded):${changed}\n`);
    return undefined;
  }
  throw new CorralError("E_USAGE", `the project changed since this sweep was created (${drift.changes.join("; ")}); its ${countOf(runs.length, "run")} to rerun would not run what the project now says`, {
    hint: `rerun them with the project as it is now (new attempts, same overrides): corral resume --use-current-project ${rel}\n  or as the sweep recorded them: corral resume${o.retryFailed ? " --retry-failed" : ""} --as-recorded ${rel}`,
  });
}
