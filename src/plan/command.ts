/**
 * A `command` that interpolates the run's config (`python main.py --lr ${lr} --id=${id}`), for
 * apps that are not Hydra apps: each run's argv is the command with its placeholders filled in,
 * and no `key=value` overrides are appended.
 *
 * - `${a.b}` is a dotted key of the run's composed, resolved config (a list item is `${a.0}`).
 * - A word that is one placeholder becomes exactly one argument, whatever the value holds
 *   (spaces included): argv is never read by a shell.
 * - A placeholder inside a word (`--id=${id}`, `run_${seed}.log`) is replaced by the value's text
 *   and the word stays one argument.
 * - Values read as in a config string (`name_${x}`): a string as itself, an int as `3`, a float as
 *   Python writes it (`0.001`, `1.0`, `1e-05`), `true`/`false`, `null`, a list or map as JSON.
 * - `\${` is a literal `${` (write it inside single quotes in a command string, where the
 *   backslash survives the word splitting). A `${...}` that is not a key (`${1#x}`, `${x:-d}` for
 *   a shell run by `sh -c`) is left as written; `$NAME` without braces is never a placeholder.
 *
 * PURE.
 */
import { CorralError, didYouMean, type SourceLocation } from "../errors.js";
import { getPath, isConfigMap, splitPath } from "./configpath.js";
import { toText } from "./interpolate.js";
import type { ConfigMap, ConfigValue } from "./types.js";

/** Where the command was written, for messages. */
export interface CommandSource {
  file: string;
  line?: number;
  column?: number;
}

type Piece = string | { key: string };

/** True when some word of `command` holds a `${` placeholder (not `\${`). */
export function commandInterpolates(command: readonly string[]): boolean {
  return command.some((w) => wordPieces(w).interpolates);
}

const KEY_RE = /^[A-Za-z_$][\w$-]*(?:\.[\w$-]+)*$/;

/**
 * Literal text and placeholders of one word. Only `${dotted.key}` is a placeholder: any other
 * `${...}` (a shell's `${1#x}` or `${x:-d}` in `sh -c '...'`, a `${` left open) stays as written.
 */
function wordPieces(word: string): { pieces: Piece[]; interpolates: boolean } {
  const pieces: Piece[] = [];
  let lit = "";
  for (let i = 0; i < word.length; ) {
    if (word.startsWith("\\${", i)) {
      lit += "${";
      i += 3;
      continue;
    }
    if (word.startsWith("${", i)) {
      const close = word.indexOf("}", i + 2);
      const key = close < 0 ? "" : word.slice(i + 2, close).trim();
      if (KEY_RE.test(key)) {
        if (lit) pieces.push(lit);
        lit = "";
        pieces.push({ key });
        i = close + 1;
        continue;
      }
    }
    lit += word[i];
    i++;
  }
  if (lit) pieces.push(lit);
  return { pieces, interpolates: pieces.some((p) => typeof p !== "string") };
}

/**
 * The command with the run's values filled in (see the module comment). Throws CorralError
 * E_CONFIG naming `source` and the key for a key the run's config lacks.
 */
export function renderCommand(command: readonly string[], config: ConfigMap, source: CommandSource): string[] {
  return command.map((word) => {
    let out = "";
    for (const p of wordPieces(word).pieces) {
      if (typeof p === "string") {
        out += p;
        continue;
      }
      const v = getPath(config, p.key);
      if (v === undefined) throw missingKey(config, p.key, { ...source, key: p.key });
      out += toText(v);
    }
    return out;
  });
}

const SHELL_HINT = "; a shell variable in `sh -c` is written $NAME or \\${NAME}";

/** No such key: say which keys exist where the path stops, or the closest one. */
function missingKey(config: ConfigMap, key: string, location: SourceLocation): CorralError {
  // `${HOME}` in a `sh -c` script: most likely meant for the shell.
  const shell = /^[A-Z_][A-Z0-9_]*$/.test(key) ? SHELL_HINT : "";
  const segs = splitPath(key);
  let node: ConfigValue = config;
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k]!;
    if (!isConfigMap(node)) break;
    if (!Object.prototype.hasOwnProperty.call(node, seg)) {
      const known = Object.keys(node);
      const dym = didYouMean(seg, known);
      const hint = dym ? `did you mean '${[...segs.slice(0, k), dym].join(".")}'?` : known.length ? `keys there: ${known.slice(0, 12).join(", ")}` : "the config has no keys there";
      return new CorralError("E_CONFIG", `command: no key '${key}' in the run's config`, { location, hint: `${hint}${shell}` });
    }
    node = node[seg]!;
  }
  return new CorralError("E_CONFIG", `command: no key '${key}' in the run's config`, { location, ...(shell ? { hint: shell.slice(2) } : {}) });
}
