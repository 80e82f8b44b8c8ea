"""Runs a mixact ONNX export in onnxruntime and compares with mixact's own predictions.

    python check_onnx.py MODEL.onnx INPUTS.csv PREDICTIONS.csv

INPUTS.csv holds raw rows (the scaler is part of the graph), PREDICTIONS.csv
mixact's outputs for them; either may start with a header line. Passes when
every output agrees to 1e-5 relative (|ort - mixact| <= 1e-5 max(1, |mixact|)).
Exit status 0 on agreement, 1 otherwise.
"""

import sys

import numpy as np
import onnxruntime as ort


def read(path):
    with open(path) as f:
        first = f.readline()
    has_header = any(c.isalpha() and c not in "eE" for c in first)
    return np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1 if has_header else 0)


def check(model, inputs, predictions):
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta()
    x = read(inputs)
    want = read(predictions)
    dtype = np.float64 if session.get_inputs()[0].type == "tensor(double)" else np.float32
    (got,) = session.run(None, {"input": x.astype(dtype)})
    if got.shape != want.shape:
        print(f"FAIL {model}: onnxruntime gives shape {got.shape}, mixact {want.shape}")
        return False
    err = np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))
    ok = err <= 1e-5
    print(
        f"{'ok  ' if ok else 'FAIL'} {model}: onnxruntime {ort.__version__} vs mixact: "
        f"max relative difference {err:.2e} over {want.size} outputs "
        f"(producer {meta.producer_name}, metadata {sorted(meta.custom_metadata_map)})"
    )
    return ok


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    sys.exit(0 if check(*sys.argv[1:]) else 1)
