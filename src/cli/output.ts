/**
 * Writing big outputs to stdout piece by piece, waiting when the reader is slower: a 20,000-run
 * dry run or status list is never one string, and never piles up in memory behind a pipe.
 */

/** `f` over `xs`, lazily. */
export function* each<T, U>(xs: Iterable<T>, f: (x: T) => U): Generator<U> {
  for (const x of xs) yield f(x);
}

/** Resolves once `out` can take more (or is gone: a closed pipe ends the process elsewhere). */
const drained = (out: NodeJS.WritableStream): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      out.off("drain", done);
      out.off("close", done);
      out.off("error", done);
      resolve();
    };
    out.on("drain", done);
    out.on("close", done);
    out.on("error", done);
  });

/** Write `parts` in chunks of about 64 KiB, honouring backpressure. */
export async function writeParts(parts: Iterable<string>, out: NodeJS.WritableStream & { destroyed?: boolean } = process.stdout): Promise<void> {
  let buf = "";
  for (const p of parts) {
    buf += p;
    if (buf.length < 1 << 16) continue;
    const more = out.write(buf);
    buf = "";
    if (out.destroyed) return;
    if (!more) await drained(out);
  }
  if (buf && !out.destroyed) out.write(buf);
}

/** Each string as one line. */
export const writeLines = (lines: Iterable<string>, out?: NodeJS.WritableStream): Promise<void> => writeParts(each(lines, (l) => `${l}\n`), out);

/** Exactly `JSON.stringify(items, null, 2) + "\n"`, written item by item. */
export function writeJsonArray(items: Iterable<unknown>, out?: NodeJS.WritableStream, toJson: (item: unknown) => string = (it) => JSON.stringify(it, null, 2)): Promise<void> {
  function* parts(): Generator<string> {
    let first = true;
    for (const it of items) {
      // JSON strings hold no raw newline, so indenting every line nests the item exactly.
      yield (first ? "[\n" : ",\n") + toJson(it).replace(/^/gm, "  ");
      first = false;
    }
    yield first ? "[]\n" : "\n]\n";
  }
  return writeParts(parts(), out);
}
