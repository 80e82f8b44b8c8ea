"""Differential check of the numpy reader against the Rust loader.

Mutates the architecture document of a reference model file at random
(values replaced by other JSON types, fields deleted, objects written as
lists), then asks both readers about every mutant: the numpy reader must
never crash, must accept exactly what Rust accepts (and predict from it),
and must refuse the rest with the same error kind.

    python python/diff_reader.py MODEL INPUTS_CSV KINDS_BINARY [SEED] [COUNT]

KINDS_BINARY is `target/release/examples/reference_model`, run as
`reference_model --kinds FILE...`. Exit status 1 on any disagreement.
"""

import copy
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mixact_numpy as m  # noqa: E402

VALUES = [None, 0, -1, 1, 2**70, 1.5, 1e308, -0.0, True, "x", "", "relu", [], [1], [None],
          [-1], [[1]], ["relu"], ["relu"] * 3, {}, {"a": 1}, {"offset": [0.0], "scale": [1.0]}]


def paths(o, p=()):
    yield p
    if isinstance(o, dict):
        for k, v in o.items():
            yield from paths(v, p + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from paths(v, p + (i,))


def mutate(arch, rng):
    a = copy.deepcopy(arch)
    every = list(paths(a))
    for _ in range(rng.randint(1, 3)):
        p = rng.choice(every)
        if not p:
            continue
        o = a
        try:
            for k in p[:-1]:
                o = o[k]
            r = rng.random()
            if r < 0.15 and isinstance(o, dict):
                del o[p[-1]]
            elif r < 0.25 and isinstance(o[p[-1]], dict):
                o[p[-1]] = list(o[p[-1]].values())
            else:
                o[p[-1]] = copy.deepcopy(rng.choice(VALUES))
        except (KeyError, IndexError, TypeError):
            pass
    return a


def numpy_kind(path, x):
    try:
        run, _ = m.load(path)
    except m.ModelError as e:
        return e.kind
    except Exception as e:  # a crash: the line says where
        line = traceback.extract_tb(e.__traceback__)[-1].lineno
        return f"crash {type(e).__name__} at line {line}: {e}"
    try:
        run(x)
    except Exception as e:
        return f"accepted, then predicting crashed: {type(e).__name__}: {e}"
    return "accepted"


def main():
    model, inputs, kinds_binary = sys.argv[1:4]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    data = open(model, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    arch = json.loads(header["__metadata__"]["mixact"])
    x = np.loadtxt(inputs, delimiter=",", ndmin=2)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i in range(count):
            h = dict(header)
            h["__metadata__"] = {"mixact": json.dumps(mutate(arch, rng))}
            hb = json.dumps(h).encode()
            f = os.path.join(d, f"{i}.safetensors")
            with open(f, "wb") as out:
                out.write(struct.pack("<Q", len(hb)) + hb + body)
            files.append(f)
        out = subprocess.run([kinds_binary, "--kinds", *files], capture_output=True, text=True, check=True)
        rust = dict(line.rsplit(",", 1) for line in out.stdout.strip().split("\n"))
        differ = {}
        for f in files:
            got = numpy_kind(f, x)
            if got != rust[f]:
                differ.setdefault((rust[f], got), open(f, "rb").read()[8:300])
    for (r, py), example in sorted(differ.items()):
        print(f"FAIL Rust {r}, numpy {py}; e.g. {example!r}")
    print(f"numpy reader vs Rust loader on {count} mutated headers (seed {seed}): "
          f"{'all agree' if not differ else f'{len(differ)} kinds of disagreement'}")
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
