/**
 * `corral ui`: the dashboard's HTTP server. Loopback by default, one random token per start.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { CorralError } from "../errors.js";
import { createDashboardApp } from "./app.js";
import { StoreWatcher, type LoadPace } from "./live.js";

export interface DashboardOptions {
  projectDir: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Sweep folder to open first (and to show even if the project index does not list it). */
  sweepDir?: string;
  /** Sweep id the first page opens. */
  sweepId?: string;
  /** Store poll interval. @default 500 */
  pollMs?: number;
  /** Fixed token (tests); default 24 random bytes. */
  token?: string;
  /** Runs read before the server answers (tests: a small sweep that still loads). @default READ_SLICE */
  readSlice?: number;
  /** The pace of reading the rest (tests hold a sweep in the loading state with it). */
  load?: LoadPace;
}

export interface Dashboard {
  /** The URL to open, token included. */
  url: string;
  host: string;
  port: number;
  token: string;
  /** Resolves once the first poll has read every run (a large sweep loads a slice at a time after start). */
  whenLoaded(): Promise<void>;
  /** Stop polling and listening; safe to call twice. */
  close(): Promise<void>;
}

/** Start polling the store and serving the dashboard; resolves once the socket listens. */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const host = opts.host ?? "127.0.0.1";
  const token = opts.token ?? randomBytes(24).toString("base64url");
  const watcher = new StoreWatcher(opts.projectDir, {
    ...(opts.sweepDir ? { extraSweepDirs: [opts.sweepDir] } : {}),
    ...(opts.readSlice !== undefined ? { readSlice: opts.readSlice } : {}),
    ...(opts.load ? { load: opts.load } : {}),
  });
  // Known once the socket listens (port 0 picks one); no request can arrive before.
  let allowed: (h: string) => boolean = () => false;
  const app = createDashboardApp({ watcher, token, hostAllowed: (h) => allowed(h) });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      reject(
        new CorralError("E_USAGE", `cannot listen on ${host}:${opts.port ?? 0}: ${e.code ?? e.message}`, {
          hint: e.code === "EADDRINUSE" ? "pick another --port, or 0 for any free one" : "check --host",
        }),
      );
    });
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  watcher.start(opts.pollMs ?? 500);
  const addr = server.address() as AddressInfo;
  allowed = hostAllowedFor(addr.address, addr.port);
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const hash = opts.sweepId ? `#/sweep/${encodeURIComponent(opts.sweepId)}` : "";
  let closed: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${addr.port}/?token=${token}${hash}`,
    host: addr.address,
    port: addr.port,
    token,
    whenLoaded: () => watcher.whenLoaded(),
    close() {
      closed ??= new Promise<void>((resolve) => {
        watcher.close();
        server.close(() => resolve());
        // Event streams stay open forever; end them so close() returns.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

const WILDCARD = new Set(["0.0.0.0", "::", ""]);

/**
 * The Host headers a server bound to `bound`:`port` answers to: the loopback names
 * (127.0.0.1, localhost, [::1]) and the bound address, each with the port (bare too on port 80,
 * where browsers leave it out). A page on attacker.example that rebinds its name to 127.0.0.1
 * sends `Host: attacker.example:<port>` and is refused. Bound to a wildcard address the
 * dashboard is reached under names it cannot know, so only the token guards it (as Jupyter
 * does with remote access allowed).
 */
export function hostAllowedFor(bound: string, port: number): (host: string) => boolean {
  if (WILDCARD.has(bound)) return () => true;
  const names = ["127.0.0.1", "localhost", "[::1]", bound.includes(":") ? `[${bound.toLowerCase()}]` : bound.toLowerCase()];
  const ok = new Set(names.map((n) => `${n}:${port}`));
  if (port === 80) for (const n of names) ok.add(n);
  return (host) => ok.has(host.toLowerCase());
}
