"""An SVG of the training loss curve, titled with the test accuracy."""
import argparse, json

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--metrics", required=True)
p.add_argument("--out", required=True)
a = p.parse_args()
with open(a.model) as f:
    curve = json.load(f)["curve"]
with open(a.metrics) as f:
    met = json.load(f)
W, H, pad = 320, 200, 30
top = max(curve) or 1.0
pts = " ".join(f"{pad + i * (W - 2 * pad) / max(1, len(curve) - 1):.1f},{H - pad - v / top * (H - 2 * pad):.1f}" for i, v in enumerate(curve))
svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}">
<text x="{pad}" y="18" font-family="sans-serif" font-size="12">{met['model']} seed {met['seed']} lr {met['lr']}: accuracy {met['accuracy']:.2f}</text>
<polyline fill="none" stroke="#c0392b" stroke-width="2" points="{pts}"/>
</svg>
"""
with open(a.out, "w") as f:
    f.write(svg)
print(f"plotted {a.out}")
