"""Shared by train/test/plot: read the CSV, run the model, its loss."""
import csv, math


def load(path):
    with open(path) as f:
        return [(float(r["x"]), float(r["y"]), int(r["label"])) for r in csv.DictReader(f)]


def sigmoid(z):
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def forward(w, x, y):
    if w["kind"] == "linear":
        return sigmoid(w["w"][0] * x + w["w"][1] * y + w["b"]), None
    h = [math.tanh(r[0] * x + r[1] * y + b) for r, b in zip(w["w1"], w["b1"])]
    return sigmoid(sum(a * b for a, b in zip(w["w2"], h)) + w["b2"]), h


def loss(w, rows):
    eps = 1e-9
    return sum(-(l * math.log(forward(w, x, y)[0] + eps) + (1 - l) * math.log(1 - forward(w, x, y)[0] + eps)) for x, y, l in rows) / len(rows)
