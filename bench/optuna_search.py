# Optuna's TPE (Debian's python3-optuna, run with /usr/bin/python3) on Branin and 6-D Hartmann,
# sequential ask/tell: bench/search.mjs runs Corral's samplers on the same functions and budget.
# Usage: optuna_search.py <branin|hartmann6> <budget> [--multivariate] <seed>... -> one JSON line:
# best per seed. --multivariate: TPESampler(multivariate=True); else Optuna's default TPE.
import json
import math
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
ALPHA = [1.0, 1.2, 3.0, 3.2]


def branin(t):
    x1 = t.suggest_float("x1", -5, 10)
    x2 = t.suggest_float("x2", 0, 15)
    b = 5.1 / (4 * math.pi**2)
    c = 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def hartmann6(t):
    x = [t.suggest_float(f"x{i}", 0, 1) for i in range(6)]
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2 for j in range(6))) for i in range(4))


fn = {"branin": branin, "hartmann6": hartmann6}[sys.argv[1]]
budget = int(sys.argv[2])
rest = sys.argv[3:]
multivariate = "--multivariate" in rest
if multivariate:
    import warnings

    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
best = []
for seed in (int(a) for a in rest if a != "--multivariate"):
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, multivariate=multivariate))
    study.optimize(fn, n_trials=budget)
    best.append(study.best_value)
print(json.dumps({"optuna": optuna.__version__, "best": best}))
