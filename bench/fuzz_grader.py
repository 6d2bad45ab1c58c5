"""Fuzz the three parsers of untrusted input in the grader's own (trusted) process.

* the notebook reader: ``notebook_io.extract_bytes`` / ``extract_notebook`` followed by
  ``analysis.finish`` (magics, policy scan) on arbitrary bytes, arbitrary JSON values and real
  notebooks with random parts replaced by random values;
* the policy scan: ``policy.scan`` and ``policy.transform_magics`` on random text, Python-like
  token soup, magics and deeply nested expressions;
* the wire decoder: ``wire.decode_value`` on random bytes, on real encodings with bytes flipped,
  cut or added, and on hand-made skeletons that reference array frames.

Each generated input must end in one of the documented outcomes: the reader returns a result
(a bad notebook ends as ``fatal``, ``problems`` or ``notes``), the scan returns a list of flags
(and the transformer a str), the decoder returns a value or raises ``WireError``. Anything else
(any other exception) is a *parent crash*; the first few are printed.

Usage: ``python bench/fuzz_grader.py [--n 12000] [--seed 0]``. The last line is
``fuzz: inputs=N parent_crashes=K``.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from autograder.engine import analysis, notebook_io, policy  # noqa: E402

try:  # the codec's home since the sandbox was split by responsibility
    from autograder.sandbox.inside import wire  # noqa: E402
except ImportError:  # pragma: no cover - an older layout
    from autograder.sandbox import harness as wire  # noqa: E402

TOKENS = ["(", ")", "[", "]", "{", "}", ":", ",", ";", ".", "=", "+", "-", "*", "**", "not ",
          "lambda x: ", "def f(", "class C", "import ", "from ", " as ", "os", "course",
          "subprocess", "scipy.special", "__import__('socket')", "x", "1", "1.5e3", "'s'",
          "f'{x}'", "\n", "\n    ", "%timeit ", "%%time\n", "!ls ", "?", "\\", "\x00", "#",
          "if ", "else ", "yield ", "await ", "async ", "@dec\n", "\ud800", "é"]


# --------------------------------------------------------------------------- generators
def json_value(rng: random.Random, depth: int = 0):
    """A random JSON-able value (any type, nested up to a few levels)."""
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, 1, 4, -1, 2 ** 70, rng.randrange(-10 ** 6, 10 ** 6)])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e308, float(rng.random())])
    if kind in (4, 5):
        return rng.choice(["", "code", "markdown", "raw", "setup", "predict", "relu",
                           "test_relu", "\ud800", "\x1b[2J", "x" * rng.randrange(50)])
    if kind == 6:
        return [json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["cells", "cell_type", "source", "metadata", "nbgrader", "grade_id", "solution",
            "grade", "locked", "points", "outputs", "nbformat", "id", "k"]
    return {rng.choice(keys): json_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def mutate_notebook(rng: random.Random, nb: dict):
    """A copy of ``nb`` with a few random parts replaced by random values."""
    nb = json.loads(json.dumps(nb))
    for _ in range(rng.randrange(1, 5)):
        where = rng.randrange(6)
        cells = nb.get("cells") if isinstance(nb, dict) else None
        if where == 0 or not isinstance(cells, list) or not cells:
            if isinstance(nb, dict):
                nb[rng.choice(["cells", "nbformat", "metadata", "extra"])] = json_value(rng)
            continue
        index = rng.randrange(len(cells))
        cell = cells[index]
        if where == 1:
            cells[index] = json_value(rng)
        elif where == 2 and isinstance(cell, dict):
            cell[rng.choice(["source", "cell_type", "metadata", "outputs"])] = json_value(rng)
        elif where == 3 and isinstance(cell, dict) and isinstance(cell.get("metadata"), dict):
            nbg = cell["metadata"].get("nbgrader")
            if isinstance(nbg, dict):
                nbg[rng.choice(["grade_id", "solution", "grade", "locked"])] = json_value(rng)
            else:
                cell["metadata"]["nbgrader"] = json_value(rng)
        elif where == 4:
            cells.insert(index, json.loads(json.dumps(cell)))  # a duplicate
        elif isinstance(cell, dict):
            cell["source"] = source_text(rng)
    return nb


def source_text(rng: random.Random) -> str:
    """Python-like text: token soup, magics, or a deeply nested expression."""
    kind = rng.randrange(5)
    if kind == 0:
        depth = rng.choice([10, 100, 1000, 3000, 20000])
        op = rng.choice(["-", "not ", "~", "(", "[", "1+", "lambda: ", "x if x else "])
        close = {"(": ")", "[": "]"}.get(op, "")
        return "x = " + op * depth + "1" + close * depth
    if kind == 1:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(40)))
    return "".join(rng.choice(TOKENS) for _ in range(rng.randrange(60)))


def wire_bytes(rng: random.Random) -> bytes:
    """Bytes for the decoder: junk, a mutated real encoding, or a hand-made skeleton."""
    kind = rng.randrange(4)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    if kind == 1:
        skeleton = json.dumps(rng.choice([
            {"__nd__": rng.randrange(-2, 4)}, {"__npscalar__": 0}, {"__float__": "nan"},
            {"__float__": "1e999999"}, {"__tuple__": {"a": 1}}, {"__dict__": [1]},
            {"__callable__": "x", "arrays": {"__nd__": 0}}, [{"__nd__": 0}, {"__nd__": 0}],
            json_value(rng), "[" * 50 + "]" * 50]))
        if skeleton.startswith('"['):
            skeleton = json.loads(skeleton)
        body = skeleton.encode("utf-8", "surrogatepass")
        frames = b""
        for _ in range(rng.randrange(3)):
            header = json.dumps([rng.choice(["<f8", "|b1", "<i8", "O", "<U3", "V8", "<c16",
                                             "(2,)f8", "<M8[s]", 5]),
                                 rng.choice([[2], [0], [2 ** 40 - 1, 2 ** 40 - 1], [-1], "x",
                                             [1] * 40, [3, 2]])]).encode()
            payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 8, 16, 48])))
            frames += wire.frame(len(header).to_bytes(2, "big") + header + payload)
        return len(body).to_bytes(4, "big") + body + frames
    kind_of_a = rng.choice([np.float64, np.int32, bool])
    value = {"a": (np.arange(rng.randrange(5)) % 2).astype(kind_of_a),
             "b": [1, 2.5, None, "s", (np.int64(3),)], "c": {"d": np.zeros((2, 0))}}
    data = bytearray(wire.encode_value(value))
    if kind == 2:
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    else:
        cut = rng.randrange(len(data))
        data = data[:cut] + bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
        if rng.random() < 0.3:
            data += wire.frame(b"\x00\x02[]") * rng.randrange(1, 50)
    return bytes(data)


# --------------------------------------------------------------------------- targets
def run_reader(data, layout) -> None:
    """Raise AssertionError unless the reader ends in a documented outcome."""
    if isinstance(data, (bytes, bytearray)):
        extraction = notebook_io.extract_bytes(bytes(data), layout)
    else:
        extraction = notebook_io.extract_notebook(data, layout)
    assert isinstance(extraction, notebook_io.Extraction)
    assert extraction.fatal is None or isinstance(extraction.fatal, str)
    assert all(isinstance(v, str) for v in extraction.solutions.values())
    result = analysis.finish(extraction, layout, ("numpy", "scipy"))
    assert len(result["program"]) == len(result["scans"]) or result["fatal"]
    json.dumps(result)  # what a limited child would send back


def run_scan(source: str) -> None:
    """Raise AssertionError unless the scan and the transformer end as documented."""
    flags = policy.scan(source, packages=("numpy", "scipy"))
    assert isinstance(flags, list) and all(isinstance(f, tuple) and len(f) == 2 for f in flags)
    assert isinstance(policy.transform_magics(source), str)


def run_decoder(data: bytes) -> None:
    """Decoding returns a value or raises WireError (raised to the caller as an outcome)."""
    try:
        wire.decode_value(data)
    except wire.WireError:
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=12_000, help="inputs in all (>= 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    layout = notebook_io.load_layout(REPO, "forward_pass")
    real = layout.raw
    real_bytes = json.dumps(real).encode()
    crashes, count, start = [], 0, time.perf_counter()
    per_target = dict.fromkeys(("reader", "scan", "decoder"), 0)
    warnings.simplefilter("ignore")  # SyntaxWarnings of random text
    for i in range(args.n):
        target = ("reader", "scan", "decoder")[i % 3]
        if target == "reader":
            choice = rng.randrange(4)
            if choice == 0:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(80)))
            elif choice == 1:
                cut = rng.randrange(len(real_bytes))
                data = real_bytes[:cut] + rng.choice([b"", b"\xff", b"]}", b"\x00"])
            elif choice == 2:
                data = json_value(rng)
            else:
                data = mutate_notebook(rng, real)
        elif target == "scan":
            data = source_text(rng)
        else:
            data = wire_bytes(rng)
        run = {"reader": lambda d: run_reader(d, layout), "scan": run_scan,
               "decoder": run_decoder}[target]
        try:
            run(data)
        except Exception as exc:  # noqa: BLE001 - exactly what this bench counts
            crashes.append((target, exc))
            if len(crashes) <= 5:
                print(f"parent crash in {target}:", file=sys.stderr)
                traceback.print_exception(exc, file=sys.stderr)
        count += 1
        per_target[target] += 1
    elapsed = time.perf_counter() - start
    print(f"targets: {per_target} in {elapsed:.1f} s")
    print(f"fuzz: inputs={count} parent_crashes={len(crashes)}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
