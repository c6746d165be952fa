"""init_model: initial weights for a model, its arguments and a seed."""
from common import parser, rng, write_json

p = parser(__doc__)
p.add_argument("--model_name", required=True)
p.add_argument("--dataset_path", required=True)
p.add_argument("--seed", type=int, required=True)
p.add_argument("--output", required=True)
a = p.parse_args()
r = rng("init", a.model_name, a.rctype, a.tsteps, a.seed)
write_json(a.output, {"model": a.model_name, "rctype": a.rctype, "tsteps": a.tsteps, "seed": a.seed,
                      "w": [[round(r.gauss(0, 0.1), 6) for _ in range(2)] for _ in range(3)]})
