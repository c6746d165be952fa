/**
 * Find, read and validate a project: the project file (`corral.yaml` or `corral.config.ts/js/mjs`)
 * and the config groups under its `config_dir`. Every problem becomes one `E_CONFIG` error that
 * names the file, the line and the dotted key; nothing is printed here.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import moduleApi from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CorralError } from "../errors.js";
import { parseDefaultsList } from "../plan/compose.js";
import { withoutFloats } from "../plan/float.js";
import { findTooDeep, MAX_NESTING_DEPTH, shortPath } from "../plan/limits.js";
import type { ConfigRepo, DefaultsEntry, GroupOption } from "../plan/compose.js";
import type { ConfigMap, ConfigValue } from "../plan/types.js";
import { describeIssues, groupDefaultsSchema, isConfigMap, issueMessages, projectSchema } from "./schema.js";
import type { ConfigProblem, ProjectConfig } from "./schema.js";
import { locate, packageHeader, parseYamlSource } from "./yaml-source.js";
import type { Position, YamlSource } from "./yaml-source.js";

export { findProjectFile, PROJECT_FILES } from "./files.js";
import { PROJECT_FILES } from "./files.js";

/** A loaded, validated project. */
export interface LoadedProject {
  /** Absolute path of the project file. */
  file: string;
  /** Absolute path of the folder holding it (relative paths in the project are relative to it). */
  dir: string;
  config: ProjectConfig;
  /** Config groups read from `config_dir` (empty without one). */
  repo: ConfigRepo;
  /** The file's content before validation (YAML as JS values, or the module's default export). */
  raw: unknown;
  /** Absolute `config_dir`, when set. */
  configDir?: string;
  /** The file the primary config came from when it is `<config_dir>/config.yaml`. */
  primaryFile?: string;
  /** Where `command:` is written in a YAML project file, for messages about its placeholders. */
  commandAt?: Position;
}


/**
 * Load and validate a project file. `file` is used as given in messages (pass a relative path to
 * get `corral.yaml:12: ...`).
 * @throws CorralError E_CONFIG on unreadable files, YAML errors and invalid settings.
 */
export async function loadProject(file: string, opts: LoadOptions = {}): Promise<LoadedProject> {
  const abs = path.resolve(file);
  const ext = path.extname(abs);
  if (ext === ".yaml" || ext === ".yml") {
    return loadProjectText(readText(abs, file), file);
  }
  if (ext === ".ts" || ext === ".mts" || ext === ".js" || ext === ".mjs") {
    const raw = await withTimeout(importConfig(abs, file), opts.timeoutMs ?? configTimeoutMs(process.env), file);
    const deep = findTooDeep(raw);
    if (deep) {
      throw new CorralError("E_CONFIG", `the exported config nests more than ${MAX_NESTING_DEPTH} levels deep (or refers to itself) at '${shortPath(deep)}'`, {
        location: { file, key: shortPath(deep) },
        hint: "export plain data: maps, lists and scalars, with no object inside itself",
      });
    }
    return finish(raw, file, undefined);
  }
  throw new CorralError("E_CONFIG", `unsupported project file type '${ext || path.basename(abs)}'`, {
    location: { file },
    hint: `use one of ${PROJECT_FILES.join(", ")}`,
  });
}

/**
 * Validate a project file's YAML text as if read from `file` (config groups are still read
 * from disk, relative to `file`). Synchronous: YAML needs no module loader.
 */
export function loadProjectText(text: string, file: string): LoadedProject {
  const src = parseYamlSource(text, file);
  return finish(src.value ?? {}, file, src);
}

// ---------------------------------------------------------------------------------------------

function readText(abs: string, shown: string): string {
  try {
    return readFileSync(abs, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CorralError("E_CONFIG", code === "ENOENT" ? "file not found" : `cannot read the file (${code ?? String(e)})`, {
      location: { file: shown },
      cause: e,
    });
  }
}

/** Options for {@link loadProject}. */
export interface LoadOptions {
  /**
   * How long a JS/TS project file may take to load and settle its config (module, factory and
   * promise together) before it is an error.
   * @default CORRAL_CONFIG_TIMEOUT_MS from the environment, else DEFAULT_CONFIG_TIMEOUT_MS
   */
  timeoutMs?: number;
}

/** 30 s: far beyond any config that computes its values, short enough that a hang is noticed. */
export const DEFAULT_CONFIG_TIMEOUT_MS = 30_000;

/** The config load timeout from `CORRAL_CONFIG_TIMEOUT_MS` (a positive number of ms), else the default. */
export function configTimeoutMs(env: Record<string, string | undefined>): number {
  const n = Number(env.CORRAL_CONFIG_TIMEOUT_MS);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_CONFIG_TIMEOUT_MS;
}

/**
 * Settle `p` or fail after `ms`. The timer also keeps the process alive: a promise that never
 * settles leaves Node nothing to wait for, and it would exit 0 having done nothing.
 */
async function withTimeout<T>(p: Promise<T>, ms: number, shown: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new CorralError("E_CONFIG", `the project file's config did not settle within ${ms / 1000} s (a promise or async factory that never resolves?)`, {
          location: { file: shown },
          hint: "make the default export (or the function or promise given to defineConfig) finish; CORRAL_CONFIG_TIMEOUT_MS sets the limit in milliseconds",
        }),
      );
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

let importCounter = 0;
let corralResolverOn: Promise<void> | undefined;

/**
 * Let a project file anywhere `import { defineConfig } from "corral"`: when the project cannot
 * resolve the bare specifier `corral` itself (no `node_modules/corral` above it), it gets this very
 * package's API. The API is loaded once by Node's own loader and handed over through a global, so
 * tsx does not compile the library's modules again for the config file (seconds otherwise). A
 * project with its own copy keeps using it.
 */
function registerCorralResolver(): Promise<void> {
  corralResolverOn ??= (async () => {
    // dist/project/load.js -> dist/index.js (src/project/load.ts -> src/index.ts under a TS runner).
    const entry = new URL(`../index${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
    const api = (await import(entry)) as Record<string, unknown>;
    (globalThis as Record<symbol, unknown>)[Symbol.for("corral.api")] = api;
    const names = Object.keys(api).filter((n) => n !== "default" && /^[A-Za-z_$][\w$]*$/.test(n));
    const shim = `const a = globalThis[Symbol.for("corral.api")];\n${names.map((n) => `export const ${n} = a.${n};`).join("\n")}\n`;
    const register = (moduleApi as { register?: (specifier: string, parentURL?: string, options?: { data?: unknown }) => void }).register;
    if (typeof register === "function") {
      const hook = `let shim;
export function initialize(data) { shim = data.shim; }
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (specifier === "corral" && e && (e.code === "ERR_MODULE_NOT_FOUND" || e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED")) return { url: shim, format: "module", shortCircuit: true };
    throw e;
  }
}`;
      register(`data:text/javascript,${encodeURIComponent(hook)}`, import.meta.url, { data: { shim: `data:text/javascript,${encodeURIComponent(shim)}` } });
    }
    // tsx compiles a .ts file outside a `"type": "module"` package to CommonJS: its `require("corral")`
    // goes through Node's CommonJS resolver, which the hook above does not see. It gets a module
    // already in the require cache whose exports are the API.
    const cjs = moduleApi as unknown as { _resolveFilename?: (request: string, ...rest: unknown[]) => string };
    const orig = cjs._resolveFilename;
    if (typeof orig !== "function") return;
    const shimPath = fileURLToPath(new URL(`./corral-api${path.extname(fileURLToPath(import.meta.url)) === ".ts" ? ".cts" : ".cjs"}`, import.meta.url));
    cjs._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
      try {
        return orig.call(this, request, ...rest);
      } catch (e) {
        // An installed copy (`npm install corral`) exports only `import`: `require` of it fails too.
        const code = (e as NodeJS.ErrnoException).code;
        if (request === "corral" && (code === "MODULE_NOT_FOUND" || code === "ERR_PACKAGE_PATH_NOT_EXPORTED")) return shimPath;
        throw e;
      }
    };
  })();
  return corralResolverOn;
}

/** The default export of a JS/TS project file (awaited and called when it is a function). */
async function importConfig(abs: string, shown: string): Promise<unknown> {
  let mod: unknown;
  try {
    const url = pathToFileURL(abs).href;
    await registerCorralResolver();
    if (abs.endsWith(".ts") || abs.endsWith(".mts")) {
      // Node 20 cannot import TypeScript; tsx compiles it on the fly (loaded only when needed).
      const { tsImport } = await import("tsx/esm/api");
      mod = await tsImport(url, import.meta.url);
    } else {
      // A query makes a second load in one process read the file again.
      mod = await import(`${url}?corral=${++importCounter}`);
    }
  } catch (e) {
    throw new CorralError("E_CONFIG", `cannot load the project file: ${firstLine(e)}`, {
      location: { file: shown },
      hint: "fix the error in the file (run it with node to see where), or write the project as corral.yaml",
      cause: e,
    });
  }
  let value = (mod as { default?: unknown }).default;
  // tsx may wrap a module it treats as CommonJS one level deeper.
  while (isObject(value) && "default" in value && Object.keys(value).every((k) => k === "default" || k === "__esModule")) {
    value = value.default;
  }
  const isFactory = typeof value === "function";
  try {
    // defineConfig takes a config, a promise of one, or a (possibly async) function returning one.
    if (typeof value === "function") value = (value as () => unknown)();
    value = await value;
  } catch (e) {
    throw new CorralError("E_CONFIG", `the config ${isFactory ? "function" : "promise"} passed to defineConfig failed: ${firstLine(e)}`, {
      location: { file: shown },
      hint: "fix the function (or promise) given to defineConfig so that it returns the config",
      cause: e,
    });
  }
  if (value === undefined) {
    throw new CorralError("E_CONFIG", "the project file has no default export", {
      location: { file: shown },
      hint: "end it with `export default defineConfig({ ... })`",
    });
  }
  return value;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Build the located error for a list of problems: the first (in file order) plus a count. */
function problemsError(problems: ConfigProblem[], file: string, src: YamlSource | undefined): CorralError {
  const located = problems.map((p, i) => ({ p, i, pos: src ? locate(src, p.path) : undefined }));
  located.sort((a, b) => {
    const la = a.pos?.line ?? Infinity;
    const lb = b.pos?.line ?? Infinity;
    return la - lb || (a.pos?.column ?? 0) - (b.pos?.column ?? 0) || a.i - b.i;
  });
  const first = located[0]!;
  const more = problems.length - 1;
  const message = first.p.message + (more > 0 ? ` (and ${more} more problem${more > 1 ? "s" : ""})` : "");
  return new CorralError("E_CONFIG", message, {
    location: { file, ...posFields(first.pos), key: first.p.key },
    hint: `fix ${first.p.key ? `'${first.p.key}'` : "it"} in ${path.basename(file)}; every key and its type are listed in docs/configuration.md`,
  });
}

function posFields(pos: Position | undefined): { line?: number; column?: number } {
  return pos ? { line: pos.line, column: pos.column } : {};
}

/** Keys of a project file whose values are config (floats kept as ConfigFloat); the rest are settings. */
const CONFIG_KEYS = new Set(["config", "sweep"]);

function finish(typed: unknown, file: string, src: YamlSource | undefined): LoadedProject {
  const raw = isObject(typed) ? Object.fromEntries(Object.entries(typed).map(([k, v]) => [k, CONFIG_KEYS.has(k) ? v : withoutFloats(v)])) : typed;
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  // Top-level keys beginning with `x-` are the user's own (YAML anchors to reuse: `x-common: &c`),
  // as in Compose files: read for their anchors, then left out.
  const own = raw && typeof raw === "object" && !Array.isArray(raw) ? Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith("x-"))) : raw;
  const parsed = projectSchema.safeParse(own, { reportInput: true, error: issueMessages });
  if (!parsed.success) throw problemsError(describeIssues(parsed.error.issues), file, src);
  const out = parsed.data;

  // The defaults list in composition form; the schema has already checked its shape.
  const defaultsRaw = isObject(raw) ? raw.defaults : undefined;
  let defaults = toDefaults(defaultsRaw as ConfigValue | undefined, file, src, ["defaults"]);

  let primary: ConfigMap = out.config ?? {};
  let configDir: string | undefined;
  let primaryFile: string | undefined;
  let repo: ConfigRepo = { groups: new Map() };
  if (out.config_dir !== undefined) {
    configDir = path.resolve(dir, out.config_dir);
    const shownDir = path.join(path.dirname(file), out.config_dir);
    if (!isDir(configDir)) {
      const pos = src ? locate(src, ["config_dir"]) : undefined;
      throw new CorralError("E_CONFIG", `config_dir '${out.config_dir}' is not a folder (looked for ${configDir})`, {
        location: { file, ...posFields(pos), key: "config_dir" },
      });
    }
    repo = loadConfigRepo(configDir, shownDir);
    if (out.config === undefined) {
      const name = ["config.yaml", "config.yml"].find((n) => existsSync(path.join(configDir!, n)));
      if (name !== undefined) {
        primaryFile = path.join(configDir, name);
        const opt = loadGroupFile(primaryFile, path.join(shownDir, name));
        primary = opt.config;
        if (opt.defaults) {
          if (defaultsRaw !== undefined) {
            const pos = src ? locate(src, ["defaults"]) : undefined;
            throw new CorralError("E_CONFIG", `defaults is set both here and in ${path.join(shownDir, name)}; keep one`, {
              location: { file, ...posFields(pos), key: "defaults" },
            });
          }
          defaults = opt.defaults;
        }
      }
    }
  }

  const config: ProjectConfig = { ...out, name: out.name ?? path.basename(dir), config: primary, defaults };
  const commandAt = src && out.command !== undefined ? locate(src, ["command"]) : undefined;
  return {
    file: abs,
    dir,
    config,
    repo,
    raw,
    ...(configDir !== undefined ? { configDir } : {}),
    ...(primaryFile !== undefined ? { primaryFile } : {}),
    ...(commandAt ? { commandAt } : {}),
  };
}

/** Defaults list in composition form, with compose.ts's own errors given a line. */
function toDefaults(raw: ConfigValue | undefined, file: string, src: YamlSource | undefined, at: PropertyKey[]): DefaultsEntry[] {
  try {
    return parseDefaultsList(raw, file);
  } catch (e) {
    if (e instanceof CorralError && src) {
      const key = e.location?.key;
      const rel = key ? key.split(".").slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s)) : [];
      const pos = locate(src, [...at, ...rel]);
      throw new CorralError(e.code, e.message, { hint: e.hint, location: { file, ...posFields(pos), key: key ?? "defaults" }, cause: e });
    }
    throw e;
  }
}

function realDir(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Read every `<group path>/<option>.yaml` under `configDir` into a repo: `db/mysql.yaml` is
 * group `db` option `mysql`, `server/db/pg.yaml` group `server/db` option `pg`. Files directly
 * in `configDir` are primary configs, not group options. Hidden entries are skipped.
 * @param shownDir how `configDir` is written in messages.
 */
export function loadConfigRepo(configDir: string, shownDir: string = configDir): ConfigRepo {
  const groups = new Map<string, Map<string, GroupOption>>();
  // Real paths of the folders on the current walk: a symlink back to one of them is a loop
  // (conf/db/self -> ..) that would otherwise recurse for ever.
  const onWalk = new Map<string, string>();
  const walk = (absDir: string, group: string): void => {
    const real = realDir(absDir);
    const seen = onWalk.get(real);
    if (seen !== undefined) {
      const shown = path.join(shownDir, group);
      throw new CorralError("E_CONFIG", `config_dir has a symlink loop: this folder is ${seen === "" ? shownDir : path.join(shownDir, seen)} again`, {
        location: { file: shown },
        hint: "remove or retarget the symlink; a config group folder may not contain itself",
      });
    }
    onWalk.set(real, group);
    const entries = readdirSync(absDir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      if (ent.name.startsWith(".")) continue;
      const abs = path.join(absDir, ent.name);
      const isDirectory = ent.isDirectory() || (ent.isSymbolicLink() && isDir(abs));
      if (isDirectory) {
        walk(abs, group === "" ? ent.name : `${group}/${ent.name}`);
        continue;
      }
      const m = /^(.*)\.ya?ml$/.exec(ent.name);
      if (!m || group === "") continue;
      const option = m[1]!;
      let options = groups.get(group);
      if (!options) groups.set(group, (options = new Map()));
      const shown = path.join(shownDir, group, ent.name);
      const prev = options.get(option);
      if (prev) {
        throw new CorralError("E_CONFIG", `config group '${group}' has two files for option '${option}' (${prev.file} and ${shown})`, {
          location: { file: shown },
        });
      }
      options.set(option, loadGroupFile(abs, shown));
    }
    onWalk.delete(real);
  };
  walk(configDir, "");
  return { groups };
}

/** One config file: its content, its `defaults:` list split out, and its `@package` header. */
function loadGroupFile(abs: string, shown: string): GroupOption {
  const text = readText(abs, shown);
  const src = parseYamlSource(text, shown);
  const value = src.value ?? {};
  if (!isConfigMap(value)) {
    throw new CorralError("E_CONFIG", "a config file must hold a map of keys to values", {
      location: { file: shown, ...posFields(locate(src, [])) },
    });
  }
  const { defaults: rawDefaults, ...config } = value;
  const opt: GroupOption = { config, file: shown };
  if (rawDefaults !== undefined) {
    const checked = groupDefaultsSchema.safeParse(rawDefaults, { reportInput: true, error: issueMessages });
    if (!checked.success) throw problemsError(describeIssues(checked.error.issues, ["defaults"]), shown, src);
    opt.defaults = toDefaults(rawDefaults, shown, src, ["defaults"]);
  }
  const pkg = packageHeader(text);
  if (pkg !== undefined) opt.package = pkg;
  return opt;
}
