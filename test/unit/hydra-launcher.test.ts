/**
 * Hydra launcher presets read as Corral launcher settings (issue 12, point 3). Keys and units are
 * the plugins' own: hydra-submitit-launcher's SlurmQueueConf (timeout_min minutes, mem_gb GB,
 * signal_delay_s seconds, additional_parameters extra sbatch options, setup lines) and
 * clusterduck's README (parallel_runs_per_node, total_runs_per_node: all runs in one job when
 * unset, wait_for_completion, resources_config {cpu, cuda: {gpus}, stagger: {delay}}).
 */
import { describe, expect, it } from "vitest";
import { launcherFromHydra } from "../../src/project/hydra-launcher.js";
import { thrownCorralError } from "../helpers.js";

describe("launcherFromHydra", () => {
  it("reads clusterduck's README example (every clusterduck key)", () => {
    const p = launcherFromHydra(
      {
        timeout_min: 5,
        partition: "dev_accelerated",
        gres: "gpu:4",
        parallel_runs_per_node: 4,
        total_runs_per_node: 8,
        wait_for_completion: false,
        resources_config: { cpu: null, cuda: { gpus: [0, 1, 2, 3] }, stagger: { delay: 5 } },
      },
      "clusterduck_slurm",
      "conf/platform/horeka.yaml",
    )!;
    expect(p.launcher).toEqual({ type: "slurm", time: "5m", partition: "dev_accelerated", gres: "gpu:4", parallel: 4, per_job: 8, gpu_ids: ["0", "1", "2", "3"], stagger: 5 });
    expect(p.detach).toBe(true);
    expect(p.allRunsInOneJob).toBeUndefined();
    // clusterduck's cuda resource splits the job's 4 GPUs among its 4 parallel runs.
    expect(p.gpusPerRun).toBe(1);
    expect(launcherFromHydra({ gres: "gpu:4", parallel_runs_per_node: 2, resources_config: { cuda: null } }, "clusterduck_slurm", "f")!.gpusPerRun).toBe(2);
  });

  it("clusterduck without total_runs_per_node puts all runs in one job; its list form of resources_config; clusterduck_local runs here", () => {
    expect(launcherFromHydra({ parallel_runs_per_node: 2 }, "clusterduck_slurm", "f")!.allRunsInOneJob).toBe(true);
    const local = launcherFromHydra({ timeout_min: 5, parallel_runs_per_node: 1, wait_for_completion: true, gpus_per_node: 1, resources_config: [{ cpu: null }, { cuda: null }] }, "clusterduck_local", "f")!;
    expect(local.launcher).toEqual({ type: "local", time: "5m", jobs: 1, gpus: 1 });
    expect(local.detach).toBeUndefined();
  });

  it("reads hydra-submitit-launcher's SlurmQueueConf keys with their units", () => {
    const p = launcherFromHydra(
      {
        _target_: "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
        submitit_folder: "${hydra.sweep.dir}/.submitit/%j",
        timeout_min: 60,
        cpus_per_task: 8,
        gpus_per_node: 1,
        tasks_per_node: 1,
        mem_gb: 32,
        nodes: 1,
        name: "exp1",
        partition: "gpu",
        qos: "normal",
        comment: "exp",
        constraint: "a100",
        exclude: "node7",
        account: "proj",
        signal_delay_s: 120,
        max_num_timeout: 3,
        additional_parameters: { mail_type: "END" },
        array_parallelism: 256,
        setup: ["module load cuda"],
      },
      "submitit_slurm",
      "f",
    )!;
    expect(p.launcher).toEqual({
      type: "slurm",
      time: "60m",
      cpus_per_task: 8,
      gpus: 1,
      mem: "32G",
      nodes: 1,
      job_name: "exp1",
      partition: "gpu",
      qos: "normal",
      constraint: "a100",
      account: "proj",
      signal_grace: 120,
      retries: 3,
      array_throttle: 256,
      setup: ["module load cuda"],
      sbatch_args: ["--comment=exp", "--exclude=node7", "--mail_type=END"],
    });
    expect(p.plugin).toBe("submitit_slurm");
  });

  it("Hydra's basic launcher sets nothing; an unknown key is bad input naming hydra.launcher.<key>", () => {
    expect(launcherFromHydra({}, "basic", "f")).toBeUndefined();
    // submitit's default job name is Hydra's to resolve: Corral names the job then.
    expect(launcherFromHydra({ name: "${hydra.job.name}" }, "submitit_slurm", "f")!.launcher).toEqual({ type: "slurm" });
    const e = thrownCorralError(() => launcherFromHydra({ timeout_mins: 5 }, "submitit_slurm", "conf/config.yaml"));
    expect(e.code).toBe("E_CONFIG");
    expect(e.location).toMatchObject({ file: "conf/config.yaml", key: "hydra.launcher.timeout_mins" });
    const t = thrownCorralError(() => launcherFromHydra({ timeout_min: "soon" }, "submitit_slurm", "f"));
    expect(t.message).toContain("hydra.launcher.timeout_min must be a non-negative number");
  });
});
