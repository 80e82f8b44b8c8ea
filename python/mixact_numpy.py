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


# serde_json, which reads both JSON documents in Rust, refuses nesting
# deeper than this; Python's json would recurse until RecursionError.
MAX_JSON_DEPTH = 127

# The most tensors a model file may hold (Rust's `limits::MAX_TENSORS`).
MAX_TENSORS = 8192


def json_scan(data):
    """What Rust's one scan of JSON bytes finds, without parsing: objects
    outside strings, the longest string literal (bytes, escapes included)
    and the deepest nesting of arrays and objects."""
    objects = longest = depth = deepest = 0
    in_string = escaped = False
    start = 0
    for i, b in enumerate(data):
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:  # quote
                in_string = False
                longest = max(longest, i - start)
        elif b == 0x22:
            in_string, start = True, i + 1
        elif b in (0x5B, 0x7B):  # [ {
            objects += b == 0x7B
            depth += 1
            deepest = max(deepest, depth)
        elif b in (0x5D, 0x7D):  # ] }
            depth -= 1
    if in_string:
        longest = max(longest, len(data) - start)
    return objects, longest, deepest


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
        data += f.read(n)  # at most MAX_HEADER bytes
        if len(data) < 8 + n:
            return data
        try:
            objects, _, depth = json_scan(data[8:])
            if objects > MAX_TENSORS + 2 or depth > MAX_JSON_DEPTH:
                return data
            header = json.loads(data[8:].decode("utf-8"))
            ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
            declared = max([e for e in ends if type(e) is int and e >= 0], default=0)
        except (UnicodeDecodeError, ValueError, AttributeError, KeyError, TypeError, IndexError):
            return data
        # In pieces: f.read(n) would allocate n bytes before reading any.
        remaining, parts = declared + 1, [data]
        while remaining > 0:
            piece = f.read(min(remaining, 1 << 20))
            if not piece:
                break
            parts.append(piece)
            remaining -= len(piece)
        return b"".join(parts)


def read_container(data):
    """The safetensors container: (mixact metadata text, {name: (dtype, shape, bytes)})."""
    if len(data) < 8:
        raise ModelError("Truncated", f"{len(data)} bytes, no header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER:
        raise ModelError("TooLarge", f"header of {n} bytes (limit {MAX_HEADER})")
    if 8 + n > len(data):
        raise ModelError("Truncated", f"header declares {n} bytes, file has {len(data)}")
    objects, _, depth = json_scan(data[8 : 8 + n])
    if objects > MAX_TENSORS + 2:
        raise ModelError("TooLarge", f"header holds {objects} JSON objects (tensors); the limit is {MAX_TENSORS}")
    if depth > MAX_JSON_DEPTH:
        raise ModelError("NotAModel", "not a safetensors header: recursion limit exceeded")
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


def malformed(detail):
    return ModelError("Malformed", detail)


def is_int_value(v):
    """What Rust reads as an integer field: a JSON integer in 0..2^64."""
    return type(v) is int and 0 <= v < 2**64


def is_number(v):
    return type(v) in (int, float)


class LayerSpec:
    """A layer as Rust's reader splits it: its kind, its fields, and at most
    one list of sub-layers under any key (an empty list is a list of names)."""

    def __init__(self, obj, path):
        if not isinstance(obj, dict):
            raise malformed(f"{path}: a layer is not an object")
        kind = obj.get("kind")
        if not isinstance(kind, str):
            raise malformed(f"{path}: a layer without \"kind\"")
        self.kind, self.path, self.fields, self.children = kind, path, {}, None
        for key, v in obj.items():
            if key == "kind":
                continue
            if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                if self.children is not None:
                    raise malformed(f"{path}: a layer with two lists of sub-layers")
                self.children = (key, [LayerSpec(c, f"{path}{key}.{i}.") for i, c in enumerate(v)])
            elif isinstance(v, list):
                if not all(isinstance(x, str) for x in v):
                    raise malformed(f"{path}: \"{key}\" is neither a list of names nor of layers")
                if len(set(v)) > 256:
                    raise malformed(f"{path}: more than 256 distinct names in one list")
                self.fields[key] = v
            elif v is None or isinstance(v, dict):
                raise malformed(f"{path}: \"{key}\" holds an object or null")
            else:
                self.fields[key] = v

    def only(self, keys):
        for k in self.fields:
            if k not in keys:
                raise malformed(f"{self.path}: unknown field \"{k}\" in a {self.kind} layer")

    def no_sublayers(self):
        if self.children is not None:
            raise malformed(f"{self.path}: a {self.kind} layer has no sub-layers")

    def get(self, key):
        if key not in self.fields:
            raise malformed(f"{self.path}: {self.kind} layer without \"{key}\"")
        return self.fields[key]

    def count(self, key):
        v = self.get(key)
        if not is_int_value(v):
            raise malformed(f"{self.path}: \"{key}\" must be a non-negative integer")
        return v

    def number(self, key, default=None):
        if default is not None and key not in self.fields:
            return default
        v = self.get(key)
        if not is_number(v):
            raise malformed(f"{self.path}: \"{key}\" must be a number")
        return float(v)

    def flag(self, key, default):
        if key not in self.fields:
            return default
        v = self.fields[key]
        if type(v) is not bool:
            raise malformed(f"{self.path}: \"{key}\" must be true or false")
        return v

    def activation(self, key):
        v = self.get(key)
        if not isinstance(v, str):
            raise malformed(f"{self.path}: \"{key}\" must be an activation name")
        if v not in ACTIVATIONS:
            raise ModelError("UnknownActivation", f"activation {v!r}")
        return v

    def activations(self, key, width):
        names = self.get(key)
        if not isinstance(names, list):
            raise malformed(f"{self.path}: \"{key}\" must be a list of activation names")
        if width is not None and len(names) != width:
            raise ModelError("InconsistentShape", f"{len(names)} activations for {width} neurons")
        for n in names:
            if n not in ACTIVATIONS:
                raise ModelError("UnknownActivation", f"activation {n!r}")
        return names


def inconsistent(detail):
    return ModelError("InconsistentShape", detail)


def in_float(value, src):
    """A hyper-parameter as the network holds it: Rust rounds it to the
    file's float type first, so 1e308 is infinite in an f32 model."""
    if src.float_name == "f32":
        with np.errstate(over="ignore"):
            return float(np.float32(value))
    return value


def positive(value, what):
    if not (math.isfinite(value) and value > 0):
        raise inconsistent(f"{what} {value} is not finite and > 0")


def chain(children, path):
    if not children:
        raise inconsistent(f"{path}: no sub-layers")
    for (_, out, _), (inp, _, _) in zip(children, children[1:]):
        if out != inp:
            raise inconsistent(f"widths do not chain ({out} into {inp})")

    def run(x, cs=children):
        for _, _, f in cs:
            x = f(x)
        return x

    return children[0][0], children[-1][1], run


def build(spec, prefix, src):
    """A layer (a `LayerSpec`) as (input width, output width, forward
    function), with the Rust builders' checks in their order."""
    kind = spec.kind
    if kind not in ("sequential", "concat", "average", "dense", "slope", "mixture", "dropout", "layer_norm"):
        raise malformed(f"{prefix}: unknown layer kind {kind!r}")
    children = []
    if spec.children is not None:
        key, subs = spec.children
        children = [build(c, f"{prefix}{key}.{i}.", src) for i, c in enumerate(subs)]
    if kind in ("sequential", "concat", "average"):
        spec.only([])
        if kind == "sequential":
            return chain(children, prefix)
        if not children:
            raise inconsistent(f"{kind} without sub-layers")
        if len({c[0] for c in children}) != 1:
            raise inconsistent("branches of different input widths")
        if kind == "average":
            if len({c[1] for c in children}) != 1:
                raise inconsistent("members of different output widths")
            return children[0][0], children[0][1], lambda x, cs=children: sum(f(x) for _, _, f in cs) / len(cs)
        return children[0][0], sum(c[1] for c in children), lambda x, cs=children: np.concatenate([f(x) for _, _, f in cs], axis=1)
    spec.no_sublayers()
    if kind == "dropout":
        spec.only(["width", "p", "seed"])
        w, p = spec.count("width"), spec.number("p")
        spec.count("seed")
        if w == 0:
            raise inconsistent("dropout of width 0")
        if not 0.0 <= p < 1.0:
            raise inconsistent(f"dropout p {p} is not in [0, 1)")
        return w, w, lambda x: x
    if kind == "layer_norm":
        spec.only(["width", "eps"])
        w, eps = spec.count("width"), in_float(spec.number("eps"), src)
        gain, bias = src.take(prefix + "gain", [w]), src.take(prefix + "bias", [w])
        if w == 0:
            raise inconsistent("layer norm of width 0")
        positive(eps, "eps")

        def norm(x):
            mean = x.mean(axis=1, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
            return gain * (x - mean) / np.sqrt(var + eps) + bias

        return w, w, norm
    if kind == "dense":
        spec.only(["inputs", "outputs", "activations"])
        n_in, n_out = spec.count("inputs"), spec.count("outputs")
        names = spec.activations("activations", n_out)
        w, b = src.take(prefix + "weight", [n_out, n_in]), src.take(prefix + "bias", [n_out])
        if n_in == 0 or n_out == 0:
            raise inconsistent("a dense layer of width 0")

        def dense(x):
            z = x @ w.T + b
            return np.stack([ACTIVATIONS[n](z[:, j]) for j, n in enumerate(names)], axis=1)

        return n_in, n_out, dense
    if kind == "slope":
        spec.only(["inputs", "outputs", "activation", "scale", "trained", "shared"])
        n_in, n_out = spec.count("inputs"), spec.count("outputs")
        name = spec.activation("activation")
        # scale s and a slope shared by the layer are written only when used
        scale = in_float(spec.number("scale", 1.0), src)
        positive(scale, "slope scale")
        spec.flag("trained", True)
        shared = spec.flag("shared", False)
        w, b = src.take(prefix + "weight", [n_out, n_in]), src.take(prefix + "bias", [n_out])
        s = scale * src.take(prefix + "slope", [1 if shared else n_out])
        if n_in == 0 or n_out == 0:
            raise inconsistent("a slope layer of width 0")
        return n_in, n_out, lambda x: ACTIVATIONS[name](s * (x @ w.T + b))
    spec.only(["inputs", "outputs", "candidates", "temperature", "entropy_penalty", "alpha_lr_scale"])
    n_in, n_out = spec.count("inputs"), spec.count("outputs")
    names = spec.activations("candidates", None)
    temperature, penalty, lr_scale = (
        in_float(spec.number("temperature"), src),
        in_float(spec.number("entropy_penalty"), src),
        in_float(spec.number("alpha_lr_scale"), src),
    )
    w, b = src.take(prefix + "weight", [n_out, n_in]), src.take(prefix + "bias", [n_out])
    alpha = src.take(prefix + "alpha", [n_out, len(names)])
    if n_in == 0 or n_out == 0 or not names:
        raise inconsistent("a mixture of width 0 or without candidates")
    for value, ok, what in [
        (temperature, temperature > 0, "temperature"),
        (penalty, penalty >= 0, "entropy penalty"),
        (lr_scale, lr_scale > 0, "alpha learning-rate scale"),
    ]:
        if not (math.isfinite(value) and ok):
            raise malformed(f"{prefix}: {what} {value} is out of range")

    def mixture(x):
        z = x @ w.T + b
        a = alpha / temperature
        p = np.exp(a - a.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        f = np.stack([ACTIVATIONS[c](z) for c in names], axis=2)
        return (f * p[None, :, :]).sum(axis=2)

    return n_in, n_out, mixture


def as_struct(v, fields):
    """`v` as Rust's serde reads a struct: an object, or (serde also
    accepts this) a list of its fields in declaration order."""
    if isinstance(v, list) and len(v) <= len(fields):
        return dict(zip(fields, v))
    return v


def check_document(meta):
    """The types Rust's reader requires of the architecture document (its
    serde schema): anything else is `Malformed`, before any other check.
    Returns the document as an object and its layers as `LayerSpec`s."""
    meta = as_struct(meta, ["format", "version", "float", "network", "info"])
    if not isinstance(meta, dict):
        raise malformed("the architecture is not an object")
    for key in meta:
        if key not in ("format", "version", "float", "network", "info"):
            raise malformed(f"unknown field {key!r}")
    for key in ("format", "version", "float", "network"):
        if key not in meta:
            raise malformed(f"missing field {key!r}")
    if not isinstance(meta["format"], str) or not isinstance(meta["float"], str):
        raise malformed("format and float must be strings")
    if not (type(meta["version"]) is int and 0 <= meta["version"] < 2**32):
        raise malformed("version must be an integer")
    if not isinstance(meta["network"], list):
        raise malformed("network must be a list of layers")
    specs = [LayerSpec(c, f"layers.{i}.") for i, c in enumerate(meta["network"])]
    info = as_struct(
        meta.get("info"),
        ["scaler", "class_names", "target_scaler", "feature_names", "metadata", "history"],
    )
    meta["info"] = info
    if info is None:
        return meta, specs
    if not isinstance(info, dict):
        raise malformed("info must be an object")
    for key, v in list(info.items()):
        if key in ("scaler", "target_scaler"):
            if v is None:
                continue
            v = info[key] = as_struct(v, ["offset", "scale"])
            if not (isinstance(v, dict) and set(v) == {"offset", "scale"}):
                raise malformed(f"info.{key} must hold exactly offset and scale")
            for part in ("offset", "scale"):
                if not (isinstance(v[part], list) and all(is_number(x) for x in v[part])):
                    raise malformed(f"info.{key}.{part} must be a list of numbers")
                if len(v[part]) > 1 << 20:
                    raise malformed(f"info.{key}.{part}: more than 2^20 numbers")
        elif key in ("class_names", "feature_names"):
            if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                raise malformed(f"info.{key} must be a list of names")
            if len(v) > 1 << 12:
                raise malformed(f"info.{key}: more than 4096 names")
        elif key == "metadata":
            if not (isinstance(v, dict) and all(isinstance(x, str) for x in v.values())):
                raise malformed("info.metadata must map names to strings")
            if len(v) > 1 << 12:
                raise malformed("more than 4096 metadata entries")
        elif key == "history":
            if v is None:
                continue
            v = info[key] = as_struct(v, ["epochs", "final_train_loss", "final_valid_loss", "best_valid"])
            ok = (
                isinstance(v, dict)
                and set(v) <= {"epochs", "final_train_loss", "final_valid_loss", "best_valid"}
                and is_int_value(v.get("epochs"))
                and is_number(v.get("final_train_loss"))
                and (v.get("final_valid_loss") is None or is_number(v["final_valid_loss"]))
                and (
                    v.get("best_valid") is None
                    or (
                        isinstance(v["best_valid"], list)
                        and len(v["best_valid"]) == 2
                        and is_int_value(v["best_valid"][0])
                        and is_number(v["best_valid"][1])
                    )
                )
            )
            if not ok:
                raise malformed("info.history is not a training summary")
        else:
            raise malformed(f"unknown field info.{key}")
    return meta, specs


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


def unique_keys(pairs):
    """A JSON object whose keys are unique, as Rust's reader requires."""
    out = {}
    for k, v in pairs:
        if k in out:
            raise malformed(f"duplicate field {k!r}")
        out[k] = v
    return out


def load(path):
    """The network's forward function and its info, or a `ModelError`."""
    text, tensors = read_container(read_model_file(path))
    if not isinstance(text, str):
        raise ModelError("NotAModel", "the mixact metadata is not a JSON string")
    _, longest, depth = json_scan(text.encode("utf-8"))
    if longest > MAX_INFO_TEXT + 1024:
        raise ModelError("TooLarge", f"a string of {longest} bytes in the header (info text limit {MAX_INFO_TEXT})")
    if depth > MAX_JSON_DEPTH:
        raise malformed("recursion limit exceeded")
    try:
        meta = json.loads(text, object_pairs_hook=unique_keys)
    except ValueError as e:
        raise malformed(str(e))
    meta, specs = check_document(meta)
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
    layers = [build(spec, f"layers.{i}.", src) for i, spec in enumerate(specs)]
    n_in, n_out, run = chain(layers, "network")
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
