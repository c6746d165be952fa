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
 *   backslash survives the word splitting).
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

/** Literal text and placeholders of one word; `unterminated` for a `${` without its `}`. */
function wordPieces(word: string): { pieces: Piece[]; interpolates: boolean; unterminated: boolean } {
  const pieces: Piece[] = [];
  let lit = "";
  for (let i = 0; i < word.length; ) {
    if (word.startsWith("\\${", i)) {
      lit += "${";
      i += 3;
    } else if (word.startsWith("${", i)) {
      const close = word.indexOf("}", i + 2);
      if (close < 0) return { pieces, interpolates: true, unterminated: true };
      if (lit) pieces.push(lit);
      lit = "";
      pieces.push({ key: word.slice(i + 2, close).trim() });
      i = close + 1;
    } else {
      lit += word[i];
      i++;
    }
  }
  if (lit) pieces.push(lit);
  return { pieces, interpolates: pieces.some((p) => typeof p !== "string"), unterminated: false };
}

/**
 * The command with the run's values filled in (see the module comment). Throws CorralError
 * E_CONFIG naming `source` and the key for a key the config lacks or a malformed placeholder.
 */
export function renderCommand(command: readonly string[], config: ConfigMap, source: CommandSource): string[] {
  const loc = (key: string): SourceLocation => ({ ...source, key });
  const hint = "a command placeholder names a key of the run's config, such as ${lr} or ${model.depth}";
  return command.map((word) => {
    const { pieces, unterminated } = wordPieces(word);
    if (unterminated) throw new CorralError("E_CONFIG", `command: unterminated placeholder in '${word}'`, { location: loc("command"), hint });
    let out = "";
    for (const p of pieces) {
      if (typeof p === "string") {
        out += p;
        continue;
      }
      if (!KEY_RE.test(p.key)) {
        throw new CorralError("E_CONFIG", `command: '\${${p.key}}' is not a config key`, {
          location: loc(p.key || "command"),
          hint: `${hint}; a resolver such as \${oc.env:X} belongs in the config (x: \${oc.env:X}), and the command names it (\${x})`,
        });
      }
      const v = getPath(config, p.key);
      if (v === undefined) throw missingKey(config, p.key, loc(p.key));
      out += toText(v);
    }
    return out;
  });
}

/** No such key: say which keys exist where the path stops, or the closest one. */
function missingKey(config: ConfigMap, key: string, location: SourceLocation): CorralError {
  const segs = splitPath(key);
  let node: ConfigValue = config;
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k]!;
    if (!isConfigMap(node)) break;
    if (!Object.prototype.hasOwnProperty.call(node, seg)) {
      const known = Object.keys(node);
      const dym = didYouMean(seg, known);
      const hint = dym ? `did you mean '${[...segs.slice(0, k), dym].join(".")}'?` : known.length ? `keys there: ${known.slice(0, 12).join(", ")}` : "the config has no keys there";
      return new CorralError("E_CONFIG", `command: no key '${key}' in the run's config`, { location, hint });
    }
    node = node[seg]!;
  }
  return new CorralError("E_CONFIG", `command: no key '${key}' in the run's config`, { location });
}
