"""Write a small labelled 2-D dataset as CSV (deterministic per dataset name)."""
import argparse, csv, math, random, zlib

p = argparse.ArgumentParser()
p.add_argument("--dataset", required=True)
p.add_argument("--rows", type=int, default=40)
p.add_argument("--out", required=True)
a = p.parse_args()
rng = random.Random(zlib.crc32(a.dataset.encode()))
with open(a.out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["x", "y", "label"])
    for i in range(a.rows):
        label = i % 2
        if a.dataset == "moons":
            t = rng.uniform(0, math.pi)
            x, y = (math.cos(t), math.sin(t)) if label == 0 else (1 - math.cos(t), 0.5 - math.sin(t))
        else:
            x, y = rng.gauss(2 * label - 1, 0.6), rng.gauss(1 - 2 * label, 0.6)
        w.writerow([f"{x:.4f}", f"{y:.4f}", label])
print(f"wrote {a.rows} rows to {a.out}")
