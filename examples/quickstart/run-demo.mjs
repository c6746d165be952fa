// `npm start`: sweep the quickstart example on the local launcher, then print the results table.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, "../../dist/cli/main.js");
const run = (args) => spawnSync(process.execPath, [cli, ...args], { cwd: here, stdio: "inherit" }).status ?? 1;

const code = run(["run", "-m", "--name", "demo"]);
console.log("\nResults (best validation accuracy first):\n");
run(["results", "--best", "val_acc:max"]);
process.exit(code);
