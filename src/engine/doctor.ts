/**
 * `corral doctor`: for the chosen profile, what will happen and what is missing, as a checklist.
 * The generic lines live here (project file, profile, the command or the container); the
 * launcher's lines come from the launcher itself (`Launcher.doctor`: SLURM's probes live in
 * launchers/slurm/doctor.ts). Every external program runs through `execFile` (never a shell) with
 * a timeout; the host is reached only through {@link DoctorHost}, so the checks are testable with
 * a fake one.
 */
import { countOf } from "../errors.js";
import { execFile } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { containerBinds, RUNTIME_COMMAND } from "../plan/container.js";
import { findOnPath } from "../project/profiles.js";
import type { ProjectContext } from "../project/open.js";
import { makeLauncher } from "../launchers/registry.js";
import type { DoctorCheck, DoctorContext, DoctorHost, RunResult } from "../launchers/launcher.js";
import { validateChecks } from "../launchers/doctor.js";
import { resolveSettings } from "../launchers/settings.js";

/** One line of the checklist. `ok: false` makes `corral doctor` exit 1. */
export type Check = DoctorCheck;
export type { DoctorHost, RunResult };

/** The real host: `PATH` lookups, `execFile` with a timeout, the file system. */
export function realHost(env: Record<string, string | undefined>): DoctorHost {
  return {
    which: (cmd) => findOnPath(cmd, env),
    run: (cmd, args, timeoutMs) =>
      new Promise((resolve) => {
        execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8", env: env as NodeJS.ProcessEnv, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
          if (e && typeof e.code !== "number") {
            resolve({ code: null, stdout, stderr, error: e.killed ? `no answer within ${timeoutMs / 1000}s` : e.message });
          } else {
            resolve({ code: e ? (e.code as unknown as number) : 0, stdout, stderr });
          }
        });
      }),
    exists: existsSync,
    isDir: (p) => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    },
    execPath: process.execPath,
    home: os.homedir(),
    env,
  };
}

/** Run every check for the project as opened (profiles applied). */
export async function runDoctor(project: ProjectContext, opts: { launcher?: "local" | "slurm"; probeTimeoutS?: number }, host: DoctorHost): Promise<Check[]> {
  const cfg = project.config;
  const settings = resolveSettings(cfg, opts.launcher ? { launcher: opts.launcher } : {});
  const checks: Check[] = [];
  checks.push({ ok: true, title: `project file ${project.synthetic ? "(none: command line only)" : "is valid"}`, detail: project.file });
  checks.push(
    project.profiles.length
      ? { ok: true, title: `profile ${project.profileReasons.join("; ")}` }
      : { ok: true, title: "no profile applies", ...(Object.keys(cfg.profiles).length ? { detail: `available: ${Object.keys(cfg.profiles).join(", ")} (choose with -P)` } : {}) },
  );
  // The launcher's own lines: what it will do, what `corral run` would refuse (its `validate`),
  // and its probes of the host (SLURM: the commands, the partition, the GPUs per job).
  const launcher = makeLauncher(settings);
  const ctx: DoctorContext = {
    host,
    file: project.file,
    asks: [{ cpus: cfg.resources.cpus, gpus: cfg.resources.gpus, who: "each run", location: { file: project.file, key: "resources" } }],
    container: cfg.container !== undefined,
    ...(cfg.container && cfg.container.wrap === undefined ? { containerCommand: RUNTIME_COMMAND[cfg.container.runtime] } : {}),
    projectDir: project.dir,
    ...(opts.probeTimeoutS !== undefined ? { probe: { timeoutS: opts.probeTimeoutS } } : {}),
  };
  if (launcher.doctor) checks.push(...(await launcher.doctor(settings, ctx)));
  else checks.push({ ok: true, title: `launcher ${settings.type}`, detail: `${countOf(settings.parallel, "run")} at once` }, ...(await validateChecks(launcher, settings, ctx)));

  if (cfg.container) {
    checks.push(...containerChecks(project, host));
  } else if (cfg.command?.length) {
    const prog = cfg.command[0]!;
    const found = host.which(prog);
    const isPython = /(^|\/)python[\d.]*$/.test(prog);
    checks.push(
      found
        ? { ok: true, title: `${isPython ? "python" : "the command"} '${prog}' is on PATH`, detail: found }
        : {
            ok: false,
            title: `${isPython ? "python" : "the command"} '${prog}' is not on PATH`,
            hint: isPython ? "activate the environment (add `source venv/bin/activate` or `module load python` to launcher.setup for SLURM jobs)" : "install it, or give its full path in `command`",
          },
    );
  }
  return checks;
}

function containerChecks(project: ProjectContext, host: DoctorHost): Check[] {
  const c = project.config.container!;
  const out: Check[] = [];
  if (c.wrap !== undefined) {
    out.push({ ok: true, title: "container: runs are wrapped by the `wrap` template", detail: c.wrap });
    return out;
  }
  const cmd = RUNTIME_COMMAND[c.runtime];
  const p = host.which(cmd);
  out.push(p ? { ok: true, title: `container runtime ${c.runtime}: '${cmd}' is on PATH`, detail: p } : { ok: false, title: `container runtime ${c.runtime}: '${cmd}' is not on PATH`, hint: `install ${c.runtime} (or \`module load ${c.runtime}\` in launcher.setup), or choose another runtime` });
  const image = c.image!;
  const isRef = /^[a-z]+:\/\//.test(image) || ((c.runtime === "docker" || c.runtime === "podman") && !image.startsWith("/") && !image.startsWith("."));
  if (isRef) {
    out.push({ ok: true, title: `image '${image}' is a registry reference (pulled by ${cmd}; not checked)` });
    return out;
  }
  const abs = path.resolve(project.dir, image);
  const present = c.runtime === "charliecloud" ? host.isDir(abs) : host.exists(abs);
  out.push(present ? { ok: true, title: `image exists`, detail: abs } : { ok: false, title: `image '${image}' is missing`, detail: abs, hint: c.runtime === "charliecloud" ? "build or unpack it: `ch-image build` / `ch-convert IMAGE DIR` (an image folder)" : "build or pull it, e.g. `apptainer pull img.sif docker://...`" });
  if (c.runtime === "charliecloud") {
    if (!host.env.USER) out.push({ ok: false, title: "$USER is not set (ch-run refuses to start)", hint: "export USER=$(id -un)" });
    if (present) {
      // ch-run needs each bind's mount point inside the image; /tmp is shared with the host already.
      const binds = containerBinds(c, { projectDir: project.dir, runDir: project.dir, gpu: false });
      const missing = binds.map(([, d]) => d).filter((d) => !d.startsWith("/tmp/") && !host.exists(path.join(abs, d)));
      out.push(missing.length ? { ok: false, title: `mount point(s) missing in the image: ${missing.join(", ")}`, hint: `mkdir -p ${missing.map((d) => path.join(abs, d)).join(" ")} (ch-run binds only onto existing folders)` } : { ok: true, title: "bind mount points exist in the image" });
    }
  }
  return out;
}
