"""plot: one bar per trained model (accuracy), from every test result given."""
import argparse
import csv
import os

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--output", required=True)
p.add_argument("results", nargs="+")
a = p.parse_args()
rows = []
for f in a.results:
    with open(f) as fh:
        rows += list(csv.DictReader(fh))
rows.sort(key=lambda r: (r["model"], r["rctype"], int(r["tsteps"]), int(r["seed"])))
bar, gap = 24, 6
width = len(rows) * (bar + gap) + gap
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="140">']
for i, r in enumerate(rows):
    h = float(r["accuracy"]) * 100
    x = gap + i * (bar + gap)
    svg.append(f'<rect x="{x}" y="{110 - h:.1f}" width="{bar}" height="{h:.1f}"><title>{r["model"]} {r["rctype"]} tsteps={r["tsteps"]} seed={r["seed"]}: {r["accuracy"]}</title></rect>')
svg.append("</svg>")
os.makedirs(os.path.dirname(a.output) or ".", exist_ok=True)
with open(a.output, "w") as f:
    f.write("\n".join(svg) + "\n")
