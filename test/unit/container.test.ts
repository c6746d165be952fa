import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { containerBinds, containerWrap, shellQuote, type ContainerSpec } from "../../src/plan/container.js";

const ctx = { projectDir: "/home/u/proj", runDir: "/home/u/proj/multirun/d/t/0", gpu: false };
const base = { binds: ["../shared", "/scratch/ds:/ds"], env: { A: "1", B: "x y" }, options: ["--opt"] };

describe("containerWrap: exact argv per runtime", () => {
  it("charliecloud: ch-run -b binds, --set-env, -c workdir, options, image, --", () => {
    expect(containerWrap({ runtime: "charliecloud", image: "/img/bb", ...base }, ctx)).toEqual([
      "ch-run",
      "-b", "/home/u/proj:/home/u/proj",
      "-b", "/home/u/shared:/home/u/shared",
      "-b", "/scratch/ds:/ds",
      "--set-env=A=1",
      "--set-env=B=x y",
      "-c", "/home/u/proj",
      "--opt",
      "/img/bb",
      "--",
    ]);
  });

  it("apptainer and singularity: exec --nv --bind --env --pwd image", () => {
    const c: ContainerSpec = { runtime: "apptainer", image: "img.sif", gpu: true, workdir: "/work", ...base };
    const expected = [
      "apptainer", "exec", "--nv",
      "--bind", "/home/u/proj:/home/u/proj",
      "--bind", "/home/u/shared:/home/u/shared",
      "--bind", "/scratch/ds:/ds",
      "--env", "A=1", "--env", "B=x y",
      "--pwd", "/work",
      "--opt",
      "img.sif",
    ];
    expect(containerWrap(c, ctx)).toEqual(expected);
    expect(containerWrap({ ...c, runtime: "singularity" }, ctx)).toEqual(["singularity", ...expected.slice(1)]);
    // gpu unset follows the run: no --nv for a CPU run, --nv for a GPU run.
    expect(containerWrap({ runtime: "apptainer", image: "i.sif" }, ctx)).toEqual(["apptainer", "exec", "--bind", "/home/u/proj:/home/u/proj", "--pwd", "/home/u/proj", "i.sif"]);
    expect(containerWrap({ runtime: "apptainer", image: "i.sif" }, { ...ctx, gpu: true })).toContain("--nv");
    expect(containerWrap({ runtime: "apptainer", image: "i.sif", gpu: false }, { ...ctx, gpu: true })).not.toContain("--nv");
  });

  it("docker and podman: run --rm, GPU flag, -v, run env passed by name, -e K=V, -w, image", () => {
    const runEnv = [
      "-e", "CORRAL_RUN_ID", "-e", "CORRAL_RUN_DIR", "-e", "CORRAL_SWEEP_DIR", "-e", "CORRAL_CONFIG",
      "-e", "CORRAL_ATTEMPT", "-e", "CORRAL_RESUMED", "-e", "CORRAL_GPU_FRACTION",
      "-e", "CUDA_VISIBLE_DEVICES", "-e", "OMP_NUM_THREADS",
    ];
    const c: ContainerSpec = { runtime: "docker", image: "pytorch/pytorch:2.3", ...base };
    expect(containerWrap(c, { ...ctx, gpu: true, passEnv: ["WANDB_MODE", "A"] })).toEqual([
      "docker", "run", "--rm", "--gpus", "all",
      "-v", "/home/u/proj:/home/u/proj",
      "-v", "/home/u/shared:/home/u/shared",
      "-v", "/scratch/ds:/ds",
      ...runEnv, "-e", "WANDB_MODE",
      "-e", "A=1", "-e", "B=x y",
      "-w", "/home/u/proj",
      "--opt",
      "pytorch/pytorch:2.3",
    ]);
    expect(containerWrap({ ...c, runtime: "podman", gpu: true, binds: [], env: {}, options: [] }, ctx)).toEqual([
      "podman", "run", "--rm", "--device", "nvidia.com/gpu=all",
      "-v", "/home/u/proj:/home/u/proj",
      ...runEnv,
      "-w", "/home/u/proj",
      "pytorch/pytorch:2.3",
    ]);
  });

  it("binds the run folder too when it is outside the project; drops binds the project bind covers", () => {
    expect(containerBinds({ runtime: "docker", binds: ["data", "data:/data"] }, ctx)).toEqual([
      ["/home/u/proj", "/home/u/proj"],
      ["/home/u/proj/data", "/data"],
    ]);
    expect(containerBinds({ runtime: "docker", binds: ["/d", "/d"] }, { ...ctx, runDir: "/scratch/sweeps/0" })).toEqual([
      ["/home/u/proj", "/home/u/proj"],
      ["/scratch/sweeps/0", "/scratch/sweeps/0"],
      ["/d", "/d"],
    ]);
  });

  it("a wrap template gets the command shell-quoted word by word and runs through sh -c", () => {
    const argv = ["python", "train.py", "msg=it's here", "lr=0.1"];
    const w = containerWrap({ runtime: "docker", wrap: "srun --mpi=pmix {command} # in {run_dir}" }, { ...ctx, argv });
    expect(w).toEqual(["sh", "-c", `srun --mpi=pmix python train.py 'msg=it'\\''s here' lr=0.1 # in /home/u/proj/multirun/d/t/0`, "sh"]);
    // Executed for real: the template's command receives each word intact.
    const p = containerWrap({ runtime: "docker", wrap: "printf '[%s]' {command}" }, { ...ctx, argv });
    const r = spawnSync(p[0]!, [...p.slice(1), ...argv], { encoding: "utf8" });
    expect(r.stdout).toBe("[python][train.py][msg=it's here][lr=0.1]");
    expect(() => containerWrap({ runtime: "docker", wrap: "x {command}" }, ctx)).toThrow(/needs the run's command/);
  });

  it("needs an image without a template", () => {
    expect(() => containerWrap({ runtime: "apptainer" }, ctx)).toThrow(/needs an 'image'/);
  });

  it("shellQuote leaves safe words alone and single-quotes the rest", () => {
    expect(["a", "lr=0.1", "/x/y", "", "a b", "$HOME", "it's"].map(shellQuote)).toEqual(["a", "lr=0.1", "/x/y", "''", "'a b'", "'$HOME'", `'it'\\''s'`]);
  });
});
