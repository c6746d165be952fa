// A DynVision-like workflow (get_data -> init_model -> train_model -> test_model -> plot) written
// for Corral, rule for rule beside the Snakefile in this folder (README.md shows them side by side).
//   corral flow -n                                # 20 jobs and why each runs
//   corral flow                                   # build everything
//   corral flow 'model_args.tsteps=[10,20]'       # a model-args sweep: only the new models, and the plot
//   corral flow -P cluster                        # on SLURM: train_model on a GPU partition, plot on this machine
import { defineConfig, expand } from "corral";

type ModelArgs = Record<string, string | number | Array<string | number>>;

/** ":rctype=full+tsteps=20" for each combination of the model arguments (DynVision's args_product). */
function argsProduct(args: ModelArgs | null | undefined): string[] {
  const keys = Object.keys(args ?? {});
  if (keys.length === 0) return [""];
  let combos: string[][] = [[]];
  for (const k of keys) {
    const v = args![k]!;
    const values = Array.isArray(v) ? v : [v];
    combos = combos.flatMap((c) => values.map((x) => [...c, `${k}=${x}`]));
  }
  return combos.map((c) => ":" + c.join("+"));
}

/** ":rctype=full+tsteps=20" -> ["--rctype", "full", "--tsteps", "20"] (DynVision's parse_arguments). */
function parseArguments(encoded: string): string[] {
  const text = encoded.replace(/^:/, "");
  if (text === "") return [];
  return text.split("+").flatMap((kv) => {
    const [k, v] = kv.split("=", 2);
    return [`--${k}`, v ?? ""];
  });
}

const MODEL = "models/{model_name}/{model_name}{model_args}_{seed}_{data_name}";
const REPORT = "reports/{model_name}{model_args}_{seed}_{data_name}_trained";
const modelArguments = ({ wildcards }: { wildcards: Record<string, string> }) => parseArguments(wildcards.model_args ?? "");

export default defineConfig({
  name: "dynvision",
  config_dir: "conf",
  wildcard_constraints: {
    model_name: "[a-zA-Z0-9]+",
    model_args: "(:[a-z,;:+=0-9.]+)?",
    seed: "\\d+",
    data_name: "[a-z0-9]+",
  },
  localrules: ["plot"],
  rules: {
    get_data: {
      output: "data/raw/{data_name}",
      shell: "python3 scripts/get_data.py --data_name {wildcards.data_name} --output {output}",
    },
    init_model: {
      input: { dataset: "data/raw/{data_name}" },
      output: { model_state: `${MODEL}_init.pt` },
      params: { model_arguments: modelArguments },
      shell:
        "python3 scripts/init_model.py --model_name {wildcards.model_name} --dataset_path {input.dataset}" +
        " --seed {wildcards.seed} --output {output.model_state} {params.model_arguments}",
    },
    train_model: {
      input: { model_state: `${MODEL}_init.pt`, dataset: "data/raw/{data_name}" },
      output: { model_state: `${MODEL}_trained.pt` },
      params: {
        model_arguments: modelArguments,
        epochs: ({ config }) => config.epochs as number,
        lr: ({ config }) => config.lr as number,
      },
      resources: { mem: "200M" },
      shell:
        "python3 scripts/train_model.py --input_model_state {input.model_state} --dataset_path {input.dataset}" +
        " --output_model_state {output.model_state} --epochs {params.epochs} --lr {params.lr} {params.model_arguments}",
    },
    test_model: {
      input: { model_state: `${MODEL}_trained.pt`, dataset: "data/raw/{data_name}" },
      output: { results: `${REPORT}/test_outputs.csv`, responses: `${REPORT}/test_responses.json` },
      params: { model_arguments: modelArguments },
      shell:
        "python3 scripts/test_model.py --input_model_state {input.model_state} --dataset_path {input.dataset}" +
        " --output_results {output.results} --output_responses {output.responses} {params.model_arguments}",
    },
    plot: {
      // Every model the config names: a model-args sweep on the command line changes this list.
      input: ({ config }) =>
        expand(`${REPORT}/test_outputs.csv`, {
          model_name: config.model_name as string[],
          model_args: argsProduct(config.model_args as ModelArgs),
          seed: config.seeds as number[],
          data_name: config.data_name as string,
        }),
      output: "figures/responses.svg",
      shell: "python3 scripts/plot.py --output {output} {input}",
    },
  },
  targets: ["figures/responses.svg"],
  profiles: {
    // corral flow -P cluster: every job on SLURM except the localrules; train_model as DynVision's
    // SLURM profile asks (`set-resources: train_model: {partition: ..., slurm_extra: "'--gres=gpu:1'"}`).
    cluster: {
      launcher: { type: "slurm", per_job: 4, parallel: 2 },
      default_resources: { mem: "200M", timeout: "10m" },
      set_resources: {
        // The test cluster's partition is `debug`; its node has the features `a100` and `h100`.
        train_model: { partition: "debug", constraint: "a100|h100", gres: "gpu:1", slurm_extra: "'--comment=dynvision-train'" },
      },
    },
  },
});
