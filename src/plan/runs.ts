/**
 * Plan the runs of a sweep: expand the sweep, compose and resolve each run's config, hash it
 * into the run id. PURE: the project, the environment and the clock come in as data.
 */
import { hydraSettings, isCorralKey, isHydraKey, isSettingsOnly, spelledKey } from "./hydra-app.js";
import { createHash } from "node:crypto";
import { CorralError } from "../errors.js";
import { commandInterpolates, renderCommand, type CommandSource } from "./command.js";
import { composeConfig, configOrigins, originOf, sweepGroupOptions, type ConfigRepo, type DefaultsEntry } from "./compose.js";
import { isConfigMap, stableStringify } from "./configpath.js";
import { resolveInterpolations } from "./interpolate.js";
import { DEFAULT_ARG_LIMITS, envBytes, execBytes, findTooDeep, MAX_NESTING_DEPTH, shortPath, utf8Bytes, type ArgLimits } from "./limits.js";
import { parseOverrides } from "./overrides.js";
import { expandSweep, type SweepPlan } from "./sweep.js";
import type { ConfigMap, ConfigValue, Override } from "./types.js";

export interface PlanInput {
  command: string[];
  repo: ConfigRepo;
  primary: ConfigMap | undefined;
  defaults: DefaultsEntry[];
  /** Project-file sweep grids (used with multirun only). */
  grids: unknown[];
  /** Overrides from profiles, applied before the command-line ones. */
  baseOverrides: string[];
  /** Command-line overrides. */
  overrides: string[];
  multirun: boolean;
  /** No project file: the command's own config is unknown, so every override is added. */
  freeForm: boolean;
  env: Record<string, string | undefined>;
  now: Date;
  sourceFile: string;
  /** Where the primary config was read from (`conf/config.yaml`), when not the project file. */
  primaryFile?: string;
  /**
   * Ask the app for each run's composed config (a Hydra app whose configs live in Python): given
   * the run's overrides as handed to the command, its job config and `hydra` node. The engine
   * provides it; composition from the project's YAML is then skipped.
   */
  appCompose?: (overrides: readonly string[]) => AppComposed;
  /** The line of a dotted key in a config file, for messages (the engine reads the file). */
  lineOf?: (file: string, key: string) => number | undefined;
  /**
   * Where `command` was written (the project file and the line of `command:`, or the command
   * line), for messages about its `${key}` placeholders. @default {file: sourceFile, key: "command"}
   */
  commandSource?: CommandSource;
  /**
   * How large a run's argv (command + overrides) and environment may be; a run over either is
   * refused at planning time (exit 2) instead of failing with E2BIG at spawn.
   * @default DEFAULT_ARG_LIMITS (Linux MAX_ARG_STRLEN per argument, 1 MiB in all)
   */
  argLimits?: ArgLimits;
}

export interface PlannedRun {
  index: number;
  id: string;
  /** Hydra-spelled overrides: handed to the command, unless the command interpolates the config. */
  overrides: string[];
  /**
   * The run's argv when the command interpolates its config (`--lr ${lr}`): the command with the
   * run's values filled in, and no overrides appended. Undefined: argv is command + overrides.
   */
  argv?: string[];
  params: ConfigMap;
  config: ConfigMap;
  /**
   * Hydra's settings for this run as the configs write them (`hydra:` blocks, options of
   * `hydra/<group>` files), with `runtime.choices` (every group's chosen option, Hydra's groups
   * included). Not part of the job config; the app composes Hydra's own defaults itself.
   */
  hydra: ConfigMap;
}

/** A run's config as the app itself composed it (see PlanInput.appCompose). */
export interface AppComposed {
  /** The job config. */
  config: ConfigMap;
  /** The `hydra` node, Hydra's defaults included, with `runtime.choices`. */
  hydra: ConfigMap;
}

export interface RunPlan {
  sweep: SweepPlan;
  size: number;
  /** Compose run i (lazy: a million-run sweep composes at launch, one run at a time). */
  run(i: number): PlannedRun;
}

/** Content hash of command + resolved config: the run's identity. */
export function runId(command: string[], config: ConfigValue): string {
  return createHash("sha256").update(JSON.stringify(command)).update("\0").update(stableStringify(config)).digest("hex").slice(0, 12);
}

export function planRuns(input: PlanInput): RunPlan {
  const base = parseOverrides(input.baseOverrides);
  const cli = parseOverrides(input.overrides);
  // `corral.*` overrides are Corral's settings, read where the project is opened.
  const all = [...base, ...cli].filter((o) => !isCorralKey(o.key));
  const sweepy = all.filter((o) => o.isSweep);
  if (!input.multirun && sweepy.length > 0) {
    throw new CorralError("E_OVERRIDE", `'${sweepy[0]!.input}' is a sweep, but this is a single run`, {
      hint: "add -m (--multirun) to run every combination",
      location: { file: "<command line>", key: sweepy[0]!.key },
    });
  }
  const sweep = expandSweep({
    overrides: all,
    grids: input.multirun ? input.grids : [],
    groupOptions: (g) => sweepGroupOptions(input.repo, g),
  });
  const limits = input.argLimits ?? DEFAULT_ARG_LIMITS;
  // The run inherits this environment (plus a few CORRAL_* variables, well under 4 KiB).
  const baseBytes = envBytes(input.env) + 4096 + input.command.reduce((n, a) => n + execBytes(a), 0);
  checkCommand(input.command, limits, input.sourceFile);
  const templated = commandInterpolates(input.command);
  const commandSource = input.commandSource ?? { file: input.sourceFile };
  const cliKeys = new Set(cli.map((o) => o.key));
  /**
   * A composition error, placed where the offending value is written: the file `fileOf` names for
   * its key (when it knows), and that file's line (when the engine can read it).
   */
  const placed = (e: unknown, fileOf: ((key: string) => string | undefined) | undefined): unknown => {
    if (!(e instanceof CorralError) || !e.location?.key) return e;
    const { key, file: written, line: at } = e.location;
    const file = fileOf ? fileOf(key) : written;
    // Another file: its own line. The same file: a line only where none was given.
    if (!file || (fileOf ? file === written : at !== undefined)) return e;
    const line = input.lineOf?.(file, key);
    if (!fileOf && line === undefined) return e;
    const location = fileOf ? { key, file } : { ...e.location };
    return new CorralError(e.code, e.message, { location: { ...location, ...(line !== undefined ? { line } : {}) }, ...(e.hint ? { hint: e.hint } : {}), exitCode: e.exitCode, cause: e });
  };
  const freeForm = (ovs: Override[]): Override[] => (input.freeForm ? ovs.map((o) => (o.type === "change" ? { ...o, type: "force_add" as const } : o)) : ovs);
  return {
    sweep,
    size: sweep.size,
    run(i: number): PlannedRun {
      if (input.appCompose) {
        const spelled = sweep.spelled(i).filter((o) => !isCorralKey(spelledKey(o)));
        const got = input.appCompose(spelled);
        const config = got.config;
        checkDepth(config, input.sourceFile);
        const choices = isConfigMap(got.hydra.runtime) && isConfigMap(got.hydra.runtime.choices) ? got.hydra.runtime.choices : {};
        // A group choice that put nothing in the job config only chose Hydra's settings (`+setup=hpc_gpu`).
        const settingsOnly = (o: string): boolean => {
          if (isSettingsOnly(o, input.repo)) return true;
          const key = spelledKey(o);
          return key in choices && !(key.split("/")[0]! in config);
        };
        const overrides = spelled.filter((o) => !settingsOnly(o));
        const id = runId(input.command, config);
        const params = sweep.params(i);
        if (templated) return { index: i, id, overrides, argv: renderCommand(input.command, config, commandSource), params, config, hydra: got.hydra };
        checkArgv(overrides, baseBytes, limits, (key) => (cliKeys.has(key) ? "<command line>" : input.sourceFile));
        return { index: i, id, overrides, params, config, hydra: got.hydra };
      }
      // `hydra.*` overrides are the app's Hydra settings: on its command line, not in its config.
      const given = freeForm(sweep.run(i));
      const ovs = given.filter((o) => !isHydraKey(o.key));
      const composeInput = {
        repo: input.repo,
        ...(input.primary ? { primary: input.primary } : {}),
        defaults: input.defaults,
        overrides: ovs,
        sourceFile: input.sourceFile,
        ...(input.primaryFile ? { primaryFile: input.primaryFile } : {}),
      };
      let composed: ReturnType<typeof composeConfig>;
      try {
        composed = composeConfig(composeInput);
      } catch (e) {
        // A problem in a config file's defaults list or content: name its line too.
        throw placed(e, undefined);
      }
      let config: ConfigMap;
      try {
        config = resolveInterpolations(composed.config, { env: input.env, now: input.now }, input.sourceFile);
      } catch (e) {
        // Name the file that wrote the value (conf/model/big.yaml, the command line), not the project file.
        throw placed(e, (key) => originOf(configOrigins(composeInput), key));
      }
      // Files and override values are held to MAX_NESTING_DEPTH when read; composing them at a
      // package or a dotted key, or oc.decode, can go deeper, before config.yaml is written.
      checkDepth(config, input.sourceFile);
      // Launcher and sweep settings never reach the command (the app composes the same job config without them).
      const overrides = sweep.spelled(i).filter((o) => !isSettingsOnly(o, input.repo));
      const id = runId(input.command, config);
      const params = sweep.params(i);
      const hydra = hydraSettings(composed.hydra, { ...composed.choices, ...composed.hydraChoices }, given.filter((o) => isHydraKey(o.key)));
      if (templated) {
        const argv = renderCommand(input.command, config, commandSource);
        checkArgv(argv, envBytes(input.env) + 4096, limits, () => commandSource.file, (j) => `command argument ${j + 1}`);
        return { index: i, id, overrides, argv, params, config, hydra };
      }
      checkArgv(overrides, baseBytes, limits, (key) => (cliKeys.has(key) ? "<command line>" : input.sourceFile));
      return { index: i, id, overrides, params, config, hydra };
    },
  };
}

/** A composed config deeper than MAX_NESTING_DEPTH would overflow the writers of config.yaml. */
function checkDepth(config: ConfigMap, file: string): void {
  const at = findTooDeep(config);
  if (!at) return;
  const key = shortPath(at);
  throw new CorralError("E_CONFIG", `the composed config nests more than ${MAX_NESTING_DEPTH} levels deep at '${key}'`, {
    location: { file, key },
    hint: `keep configs under ${MAX_NESTING_DEPTH} levels of nested maps and lists (check long dotted override keys and oc.decode values)`,
  });
}

const ARGV_HINT =
  "large values belong in the config, not on the command line: put them under `config:` (or in config_dir) and let the run read them from the file in $CORRAL_CONFIG (its config.yaml)";

/** The fixed part of every run's command line. */
function checkCommand(command: string[], limits: ArgLimits, file: string): void {
  const i = command.findIndex((a) => utf8Bytes(a) > limits.maxArgBytes);
  if (i < 0) return;
  throw new CorralError("E_CONFIG", `command argument ${i + 1} is ${fmtBytes(utf8Bytes(command[i]!))}, more than one argument may hold (${fmtBytes(limits.maxArgBytes)}, Linux MAX_ARG_STRLEN)`, {
    location: { file, key: "command" },
    hint: ARGV_HINT,
  });
}

/**
 * The run's argv is command + `overrides` and it inherits the environment: refuse it here when
 * execve would (E2BIG), naming the override's key, instead of letting the worker fail to spawn it.
 */
function checkArgv(overrides: string[], baseBytes: number, limits: ArgLimits, fileOf: (key: string) => string, nameOf: (i: number, arg: string) => string = (_i, arg) => overrideKey(arg)): void {
  let total = baseBytes;
  let largest = { bytes: 0, arg: "", name: "" };
  for (const [i, arg] of overrides.entries()) {
    const b = utf8Bytes(arg);
    total += execBytes(arg);
    if (b > largest.bytes) largest = { bytes: b, arg, name: nameOf(i, arg) };
    if (b > limits.maxArgBytes) {
      const key = nameOf(i, arg);
      throw new CorralError("E_CONFIG", `the value of '${key}' makes a run argument of ${fmtBytes(b)}, more than one argument may hold (${fmtBytes(limits.maxArgBytes)}, Linux MAX_ARG_STRLEN)`, {
        location: { file: fileOf(key), key },
        hint: ARGV_HINT,
      });
    }
  }
  if (total > limits.maxTotalBytes) {
    const key = largest.name;
    throw new CorralError("E_CONFIG", `a run's arguments and environment come to ${fmtBytes(total)}, more than the ${fmtBytes(limits.maxTotalBytes)} a process can safely be started with (the largest is '${key}', ${fmtBytes(largest.bytes)})`, {
      location: { file: fileOf(key), key },
      hint: ARGV_HINT,
    });
  }
}

/** The key of a Hydra-spelled override (`+a.b=1` -> `a.b`, `db@pkg=x` -> `db`). */
function overrideKey(spelled: string): string {
  const m = /^[~+]*([^=@]*)/.exec(spelled);
  return m?.[1] || spelled.slice(0, 40);
}

function fmtBytes(n: number): string {
  return `${n.toLocaleString("en-US")} bytes`;
}
