"""A reference reader of mixact model files in numpy: rebuilds the forward
pass from the file alone (layers, activations, mixtures, scaler), as the
format docs of `mixact::io` describe it.

    python mixact_numpy.py MODEL.safetensors INPUTS.csv     # prints predictions
    python mixact_numpy.py --check DIR                       # compares with Rust's

Needs numpy and safetensors (`pip install numpy safetensors`).
"""
import json
import math
import sys

import numpy as np
from safetensors import safe_open

GELU_C = math.sqrt(2.0 / math.pi)
_erf = np.vectorize(math.erf)


def sigmoid(z):
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))


ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "gelu": lambda z: 0.5 * z * (1.0 + np.tanh(GELU_C * (z + 0.044715 * z ** 3))),
    "gelu_erf": lambda z: 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0))),
    "silu": lambda z: z * sigmoid(z),
    "softplus": lambda z: np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))),
    "sin": np.sin,
}


def load(path):
    with safe_open(path, framework="np") as f:
        meta = json.loads(f.metadata()["mixact"])
        tensors = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
    return meta, tensors


def forward(spec, prefix, tensors, x):
    kind = spec["kind"]
    t = lambda name: tensors[prefix + name]
    if kind == "sequential":
        for i, layer in enumerate(spec["layers"]):
            x = forward(layer, f"{prefix}layers.{i}.", tensors, x)
        return x
    if kind == "concat":
        return np.concatenate(
            [forward(b, f"{prefix}branches.{i}.", tensors, x) for i, b in enumerate(spec["branches"])], axis=1
        )
    if kind == "dropout":
        return x
    if kind == "layer_norm":
        mean = x.mean(axis=1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
        return t("gain") * (x - mean) / np.sqrt(var + spec["eps"]) + t("bias")
    z = x @ t("weight").T + t("bias")
    if kind == "dense":
        out = np.empty_like(z)
        for j, name in enumerate(spec["activations"]):
            out[:, j] = ACTIVATIONS[name](z[:, j])
        return out
    if kind == "slope":
        return ACTIVATIONS[spec["activation"]](t("slope") * z)
    if kind == "mixture":
        a = t("alpha") / spec["temperature"]
        p = np.exp(a - a.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        f = np.stack([ACTIVATIONS[c](z) for c in spec["candidates"]], axis=2)
        return (f * p[None, :, :]).sum(axis=2)
    raise ValueError(f"unknown layer kind {kind!r}")


def predict(path, x):
    meta, tensors = load(path)
    info = meta.get("info") or {}
    if "scaler" in info:
        x = (x - np.array(info["scaler"]["offset"])) / np.array(info["scaler"]["scale"])
    return forward({"kind": "sequential", "layers": meta["network"]}, "", tensors, x)


def check(folder):
    x = np.loadtxt(f"{folder}/inputs.csv", delimiter=",", ndmin=2)
    want = np.loadtxt(f"{folder}/outputs.csv", delimiter=",", ndmin=2)
    got = predict(f"{folder}/model.safetensors", x)
    err = np.max(np.abs(got - want) / (1.0 + np.abs(want)))
    print(f"numpy reader vs Rust: max relative difference {err:.2e} over {want.size} outputs")
    return err <= 1e-6


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(0 if check(sys.argv[2]) else 1)
    if len(sys.argv) == 3:
        np.savetxt(sys.stdout, predict(sys.argv[1], np.loadtxt(sys.argv[2], delimiter=",", ndmin=2)), delimiter=",")
        sys.exit(0)
    print(__doc__)
    sys.exit(2)
