/**
 * `corral ui` (the dashboard) and `corral plot` (a chart file): flags -> options -> one core call.
 */
import { Option, type Command } from "commander";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { writeLaunchPage, type LaunchPage } from "../../dashboard/launchpage.js";
import { collectPlotPoints, renderPlotSvg, svgToPng, type PlotAgg } from "../../dashboard/plot.js";
import { startDashboard } from "../../dashboard/server.js";
import { CorralError, countOf } from "../../errors.js";
import { readManifest, resolveSweep } from "../../store/store.js";
import { cwdOf, projectDirOf } from "../args.js";
import type { CommandContext } from "./context.js";

const portArg = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CorralError("E_USAGE", `--port must be an integer 0..65535, got '${v}'`);
  return n;
};

const sizeArg = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 100 || n > 10000) throw new CorralError("E_USAGE", `${name} must be an integer 100..10000 (pixels), got '${v}'`);
  return n;
};

/**
 * Open the dashboard in the desktop browser, if there is one; silently nothing otherwise. The
 * opener gets the file:// URL of a private redirect page, never the tokenized URL: argv is
 * world-readable through `ps` and /proc. `opener` (env CORRAL_BROWSER) replaces the platform's.
 */
function openBrowser(url: string, opener: string | undefined): LaunchPage | undefined {
  const cmd = opener || (process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open");
  let page: LaunchPage;
  try {
    page = writeLaunchPage(url, tmpdir());
  } catch {
    return undefined; // no writable temp folder: the printed URL is enough
  }
  try {
    const child = spawn(cmd, [page.url], { stdio: "ignore", detached: true });
    child.on("error", () => undefined);
    child.unref();
  } catch {
    // no opener installed: the printed URL is enough
  }
  return page;
}

/** Add `ui` and `plot` to the program. */
export function registerUiCommands(program: Command, ctx: CommandContext): void {
  program
    .command("ui")
    .description("live dashboard of this project's sweeps and pipelines in the browser (loopback, with an access token)")
    .option("--port <n>", "port to listen on (0: any free port)", portArg, 0)
    .option("--host <addr>", "address to bind; anything but loopback exposes the dashboard (token-protected) to the network", "127.0.0.1")
    .option("--sweep <sweep>", "sweep folder, id or name to open first")
    .option("--no-open", "do not open a browser")
    .action(async (o: { port: number; host: string; sweep?: string; open: boolean }) => {
      const projectDir = projectDirOf(ctx.globals());
      let sweepDir: string | undefined;
      let sweepId: string | undefined;
      if (o.sweep) {
        sweepDir = resolveSweep(projectDir, o.sweep);
        sweepId = readManifest(sweepDir).id;
      }
      const ui = await startDashboard({ projectDir, host: o.host, port: o.port, ...(sweepDir ? { sweepDir } : {}), ...(sweepId ? { sweepId } : {}) });
      const loopback = ui.host === "127.0.0.1" || ui.host === "::1";
      process.stdout.write(`${ui.url}\n`);
      process.stderr.write(`corral: dashboard listening on ${ui.host}:${ui.port}${loopback ? "" : " (reachable from the network; keep the token secret)"}; Ctrl+C to stop\n`);
      const page = o.open ? openBrowser(ui.url, process.env.CORRAL_BROWSER) : undefined;
      try {
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off("SIGINT", stop);
            process.off("SIGTERM", stop);
            resolve();
          };
          process.on("SIGINT", stop);
          process.on("SIGTERM", stop);
        });
      } finally {
        // The page holds the token: it lives only as long as the server it points at.
        page?.remove();
      }
      await ui.close();
      ctx.setExit(0);
    });

  program
    .command("plot")
    .description("chart a metric against a swept parameter (SVG, or PNG through headless Chromium)")
    .argument("[sweep]", "sweep folder, id or name (default: the latest)")
    .requiredOption("--metric <name>", "metric key from metrics.jsonl (y axis)")
    .requiredOption("--param <name>", "swept parameter (x axis)")
    .option("--out <file>", "output file, .svg or .png; '-' writes SVG to stdout (default: <metric>_vs_<param>.svg)")
    .addOption(new Option("--agg <how>", "one number per run from its metric lines").choices(["last", "min", "max"]).default("last"))
    .option("--title <text>", "chart title (default: '<metric> vs <param>')")
    .option("--width <px>", "width in pixels", sizeArg("--width"), 720)
    .option("--height <px>", "height in pixels", sizeArg("--height"), 440)
    .option("--log-x", "log-scale x axis (default: automatic for positive values spanning two decades)")
    .option("--linear-x", "linear x axis even when the values span decades")
    .action(async (sweep: string | undefined, o: { metric: string; param: string; out?: string; agg: PlotAgg; title?: string; width: number; height: number; logX?: boolean; linearX?: boolean }) => {
      const cwd = cwdOf(ctx.globals());
      const manifest = readManifest(resolveSweep(projectDirOf(ctx.globals()), sweep));
      const points = collectPlotPoints(manifest, o.metric, o.agg);
      const svg = renderPlotSvg(points, {
        metric: o.metric,
        param: o.param,
        width: o.width,
        height: o.height,
        ...(o.title ? { title: o.title } : {}),
        ...(o.logX ? { logX: true } : o.linearX ? { logX: false } : {}),
      });
      if (o.out === "-") {
        process.stdout.write(svg);
        return;
      }
      const safe = (s: string): string => s.replace(/[^\w.-]+/g, "_");
      const out = path.resolve(cwd, o.out ?? `${safe(o.metric)}_vs_${safe(o.param)}.svg`);
      const ext = path.extname(out).toLowerCase();
      if (ext === ".png") writeFileSync(out, await svgToPng(svg));
      else if (ext === ".svg") writeFileSync(out, svg);
      else throw new CorralError("E_USAGE", `--out must end in .svg or .png, got '${o.out}'`);
      process.stderr.write(`corral: ${countOf(points.length, "run")} plotted to ${out}\n`);
      ctx.setExit(0);
    });
}
