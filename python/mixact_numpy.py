"""A reference reader of mixact model files in numpy: rebuilds the forward
pass from the file alone (layers, activations, mixtures, input and target
scalers), as the
format docs of `mixact::io` describe it, and refuses what the Rust loader
refuses, with the same reason (`ModelError.kind` is the name of Rust's
`ModelErrorKind`).

    python mixact_numpy.py MODEL.safetensors INPUTS.csv     # prints predictions
    python mixact_numpy.py --check DIR                       # compares with Rust's
    python mixact_numpy.py --check-hostile DIR/hostile       # refusals agree with Rust's

Needs numpy only (the safetensors container is read here, as the Rust loader
reads it, so that both refuse the same files).
"""
import json
import math
import struct
import sys

import numpy as np

GELU_C = math.sqrt(2.0 / math.pi)
_erf = np.vectorize(math.erf)

FORMAT_VERSION = 3
MAX_HEADER = 100_000_000
MAX_INFO_TEXT = 1 << 20


class ModelError(ValueError):
    """A model file the reader refuses; `kind` names Rust's `ModelErrorKind`."""

    def __init__(self, kind, detail):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


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
    "square": lambda z: z * z,
}

DTYPES = {"F32": ("<f4", 4, "f32"), "F64": ("<f8", 8, "f64")}


def is_count_list(v):
    """A JSON list of non-negative integers (booleans are not counts)."""
    return isinstance(v, list) and all(type(x) is int and x >= 0 for x in v)


def read_model_file(path):
    """The file's bytes, read no further than its header declares (plus one
    byte), as the Rust reader does: a path naming an endless source
    (/dev/zero, a FIFO) or a huge file that is no model must not fill memory.
    On a short, oversized or unreadable header the bytes read so far are
    returned, and `read_container` says what is wrong with them."""
    with open(path, "rb") as f:
        data = f.read(8)
        if len(data) < 8:
            return data
        (n,) = struct.unpack("<Q", data)
        if n > MAX_HEADER:
            return data
        data += f.read(n)
        if len(data) < 8 + n:
            return data
        try:
            header = json.loads(data[8:].decode("utf-8"))
            ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
            declared = max([e for e in ends if type(e) is int and e >= 0], default=0)
        except (UnicodeDecodeError, ValueError, AttributeError, KeyError, TypeError, IndexError):
            return data
        return data + f.read(declared + 1)


def read_container(data):
    """The safetensors container: (mixact metadata text, {name: (dtype, shape, bytes)})."""
    if len(data) < 8:
        raise ModelError("Truncated", f"{len(data)} bytes, no header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER:
        raise ModelError("TooLarge", f"header of {n} bytes (limit {MAX_HEADER})")
    if 8 + n > len(data):
        raise ModelError("Truncated", f"header declares {n} bytes, file has {len(data)}")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ModelError("NotAModel", f"not a safetensors header: {e}")
    if not isinstance(header, dict):
        raise ModelError("NotAModel", "not a safetensors header")
    body = data[8 + n :]
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise ModelError("NotAModel", "the safetensors metadata is not an object")
    for name, t in header.items():
        if not (
            isinstance(t, dict)
            and set(t) == {"dtype", "shape", "data_offsets"}
            and is_count_list(t["data_offsets"])
            and len(t["data_offsets"]) == 2
            and is_count_list(t["shape"])
        ):
            raise ModelError("NotAModel", f"tensor {name}: not a tensor entry")
    tensors = {}
    end = 0
    for name, t in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        if t["dtype"] not in DTYPES:
            raise ModelError("NotAModel", f"tensor type {t['dtype']} (mixact models hold F32 or F64)")
        a, b = t["data_offsets"]
        if a != end or b < a:
            raise ModelError("Truncated", f"tensor {name}: data does not follow the previous tensor")
        size = DTYPES[t["dtype"]][1] * math.prod(t["shape"])
        if b - a != size:
            raise ModelError("InconsistentShape", f"tensor {name}: {b - a} bytes for shape {t['shape']}")
        tensors[name] = (t["dtype"], list(t["shape"]), body[a:b])
        end = b
    if end > len(body):
        raise ModelError("Truncated", f"tensors declare {end} bytes of data, the file holds {len(body)}")
    if end < len(body):
        # No count: a file is read one byte past what its header declares.
        raise ModelError("Truncated", f"tensors declare {end} bytes of data, the file holds more")
    if "mixact" not in meta:
        raise ModelError("NotAModel", 'no "mixact" metadata')
    return meta["mixact"], tensors


class Tensors:
    """Takes tensors by name, checking type, shape and finiteness, and counts those used."""

    def __init__(self, tensors, float_name):
        self.tensors = tensors
        self.float_name = float_name
        self.used = 0

    def take(self, name, shape):
        if name not in self.tensors:
            raise ModelError("InconsistentShape", f"missing tensor {name}")
        dtype, got, raw = self.tensors[name]
        if DTYPES[dtype][2] != self.float_name:
            raise ModelError("WrongFloatType", f"{name} is {dtype}, expected {self.float_name}")
        if got != list(shape):
            raise ModelError("InconsistentShape", f"{name} has shape {got}, expected {list(shape)}")
        self.used += 1
        values = np.frombuffer(raw, dtype=DTYPES[dtype][0]).astype(np.float64).reshape(shape)
        if not np.all(np.isfinite(values)):
            raise ModelError("NonFinite", f"{name} holds a NaN or an infinity")
        return values


def activation_list(spec, key, width):
    names = spec.get(key)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelError("Malformed", f"layer field {key} is not a list of names")
    for n in names:
        if n not in ACTIVATIONS:
            raise ModelError("UnknownActivation", f"activation {n!r}")
    if width is not None and len(names) != width:
        raise ModelError("InconsistentShape", f"{len(names)} activations for {width} neurons")
    return names


def int_field(spec, key):
    v = spec.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ModelError("Malformed", f"layer field {key} is not a count")
    return v


def build(spec, prefix, src):
    """A layer as (input width, output width, forward function)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        raise ModelError("Malformed", "a layer without \"kind\"")
    kind = spec["kind"]
    if kind in ("sequential", "concat", "average"):
        key = {"sequential": "layers", "concat": "branches", "average": "members"}[kind]
        children = [build(c, f"{prefix}{key}.{i}.", src) for i, c in enumerate(spec.get(key) or [])]
        if not children:
            raise ModelError("InconsistentShape", f"{kind} without sub-layers")
        if kind == "sequential":
            for (_, out, _), (inp, _, _) in zip(children, children[1:]):
                if out != inp:
                    raise ModelError("InconsistentShape", f"widths do not chain ({out} into {inp})")

            def run(x, cs=children):
                for _, _, f in cs:
                    x = f(x)
                return x

            return children[0][0], children[-1][1], run
        if len({c[0] for c in children}) != 1:
            raise ModelError("InconsistentShape", "branches of different input widths")
        if kind == "average":
            if len({c[1] for c in children}) != 1:
                raise ModelError("InconsistentShape", "members of different output widths")
            return children[0][0], children[0][1], lambda x, cs=children: sum(f(x) for _, _, f in cs) / len(cs)
        return children[0][0], sum(c[1] for c in children), lambda x, cs=children: np.concatenate([f(x) for _, _, f in cs], axis=1)
    if kind == "dropout":
        w = int_field(spec, "width")
        return w, w, lambda x: x
    if kind == "layer_norm":
        w = int_field(spec, "width")
        gain, bias, eps = src.take(prefix + "gain", [w]), src.take(prefix + "bias", [w]), spec.get("eps")

        def norm(x):
            mean = x.mean(axis=1, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
            return gain * (x - mean) / np.sqrt(var + eps) + bias

        return w, w, norm
    if kind not in ("dense", "slope", "mixture"):
        raise ModelError("Malformed", f"unknown layer kind {kind!r}")
    n_in, n_out = int_field(spec, "inputs"), int_field(spec, "outputs")
    if kind == "dense":
        names = activation_list(spec, "activations", n_out)
    elif kind == "slope":
        names = activation_list({"a": [spec.get("activation")]}, "a", 1)
    else:
        names = activation_list(spec, "candidates", None)
    w, b = src.take(prefix + "weight", [n_out, n_in]), src.take(prefix + "bias", [n_out])
    if kind == "dense":

        def dense(x):
            z = x @ w.T + b
            return np.stack([ACTIVATIONS[n](z[:, j]) for j, n in enumerate(names)], axis=1)

        return n_in, n_out, dense
    if kind == "slope":
        # scale s and a slope shared by the layer are written only when used
        scale = spec.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (
            math.isfinite(scale) and scale > 0
        ):
            raise ModelError("InconsistentShape", f"slope scale {scale!r}")
        shared = spec.get("shared", False) is True and n_out > 1
        s = scale * src.take(prefix + "slope", [1 if shared else n_out])
        return n_in, n_out, lambda x: ACTIVATIONS[names[0]](s * (x @ w.T + b))
    alpha = src.take(prefix + "alpha", [n_out, len(names)])
    temperature = spec.get("temperature")

    def mixture(x):
        z = x @ w.T + b
        a = alpha / temperature
        p = np.exp(a - a.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        f = np.stack([ACTIVATIONS[c](z) for c in names], axis=2)
        return (f * p[None, :, :]).sum(axis=2)

    return n_in, n_out, mixture


def check_info(info, n_in, n_out):
    """The Rust loader's one check of model info against its network."""
    scaler = info.get("scaler")
    if scaler is not None:
        offset, scale = scaler.get("offset"), scaler.get("scale")
        if not isinstance(offset, list) or not isinstance(scale, list) or len(offset) != len(scale):
            raise ModelError("Malformed", "scaler: offsets and scales of different lengths")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in offset):
            raise ModelError("Malformed", "scaler: an offset is not finite")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in scale):
            raise ModelError("Malformed", "scaler: a scale is not finite and > 0")
        if len(offset) != n_in:
            raise ModelError("InconsistentShape", f"scaler of {len(offset)} features for a network of {n_in} inputs")
    target = info.get("target_scaler")
    if target is not None:
        offset, scale = target.get("offset"), target.get("scale")
        if not isinstance(offset, list) or not isinstance(scale, list) or len(offset) != len(scale):
            raise ModelError("Malformed", "target scaler: offsets and scales of different lengths")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in offset):
            raise ModelError("Malformed", "target scaler: an offset is not finite")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in scale):
            raise ModelError("Malformed", "target scaler: a scale is not finite and > 0")
        if len(offset) != n_out:
            raise ModelError("InconsistentShape", f"target scaler of {len(offset)} values for a network of {n_out} outputs")
    features = info.get("feature_names")
    if features is not None and len(features) != n_in:
        raise ModelError("InconsistentShape", f"{len(features)} feature names for a network of {n_in} inputs")
    names = info.get("class_names")
    if names is not None and len(names) != n_out and not (n_out == 1 and len(names) == 2):
        raise ModelError("InconsistentShape", f"{len(names)} class names for a network of {n_out} outputs")
    text = sum(len(k.encode()) + len(v.encode()) for k, v in (info.get("metadata") or {}).items())
    text += sum(len(n.encode()) for n in names or [])
    text += sum(len(n.encode()) for n in features or [])
    if text > MAX_INFO_TEXT:
        raise ModelError("TooLarge", f"{text} bytes of metadata and class names (limit {MAX_INFO_TEXT})")


def load(path):
    """The network's forward function and its info, or a `ModelError`."""
    text, tensors = read_container(read_model_file(path))
    try:
        meta = json.loads(text)
    except ValueError as e:
        raise ModelError("Malformed", str(e))
    if not isinstance(meta, dict):
        raise ModelError("Malformed", "the architecture is not an object")
    if meta.get("format") != "mixact":
        raise ModelError("NotAModel", f"format {meta.get('format')!r}")
    version = meta.get("version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ModelError("UnknownVersion", f"version {version} (this reader reads 1 to {FORMAT_VERSION})")
    float_name = meta.get("float")
    if float_name not in ("f32", "f64"):
        raise ModelError("WrongFloatType", f"file holds {float_name}")
    info = meta.get("info") or {}
    if version == 1 and info:
        raise ModelError("Malformed", "a version 1 file with an info object")
    if version < 3 and ("target_scaler" in info or "feature_names" in info):
        raise ModelError("Malformed", f"a version {version} file with a target scaler or feature names (version 3)")
    src = Tensors(tensors, float_name)
    n_in, n_out, run = build({"kind": "sequential", "layers": meta.get("network")}, "", src)
    if src.used != len(tensors):
        raise ModelError("InconsistentShape", f"{len(tensors)} tensors in the file, the architecture uses {src.used}")
    check_info(info, n_in, n_out)
    return run, info


def predict(path, x):
    run, info = load(path)
    if "scaler" in info:
        x = (x - np.array(info["scaler"]["offset"])) / np.array(info["scaler"]["scale"])
    y = run(x)
    if "target_scaler" in info:
        y = y * np.array(info["target_scaler"]["scale"]) + np.array(info["target_scaler"]["offset"])
    return y


def check(folder):
    x = np.loadtxt(f"{folder}/inputs.csv", delimiter=",", ndmin=2)
    want = np.loadtxt(f"{folder}/outputs.csv", delimiter=",", ndmin=2)
    got = predict(f"{folder}/model.safetensors", x)
    err = np.max(np.abs(got - want) / (1.0 + np.abs(want)))
    print(f"numpy reader vs Rust: max relative difference {err:.2e} over {want.size} outputs")
    return err <= 1e-6


def check_hostile(folder):
    """Every file Rust refuses is refused here, for the same reason."""
    ok = True
    with open(f"{folder}/expected.csv") as f:
        rows = [line.strip().split(",") for line in f.readlines()[1:] if line.strip()]
    for name, kind in rows:
        try:
            load(f"{folder}/{name}")
            got = "accepted"
        except ModelError as e:
            got = e.kind
        if got != kind:
            ok = False
        print(f"{'ok  ' if got == kind else 'FAIL'} {name}: Rust {kind}, numpy {got}")
    return ok and bool(rows)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(0 if check(sys.argv[2]) else 1)
    if len(sys.argv) == 3 and sys.argv[1] == "--check-hostile":
        sys.exit(0 if check_hostile(sys.argv[2]) else 1)
    if len(sys.argv) == 3:
        np.savetxt(sys.stdout, predict(sys.argv[1], np.loadtxt(sys.argv[2], delimiter=",", ndmin=2)), delimiter=",")
        sys.exit(0)
    print(__doc__)
    sys.exit(2)
