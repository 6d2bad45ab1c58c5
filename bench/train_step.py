"""Benchmark one SGD training step of an MLP: the course library vs PyTorch vs the GEMM floor.

Network 784-256-128-10 (ReLU hidden layers, softmax output, mean softmax cross-entropy),
batch 256, float32. One step = forward, loss, backward, parameter update. Timed in one run,
interleaved round by round, with the same number of BLAS threads, reporting medians:

(a) ``course``: ``course.network.MLP(..., dtype="float32").backward`` + ``course.optim.sgd_step``;
(b) ``torch``: the same step in PyTorch (``nn.Sequential``, ``F.cross_entropy``, ``optim.SGD``);
(c) ``gemm``: only the step's matrix products, 3 forward (z = a @ W.T) and 5 backward
    (dW = dz.T @ a for 3 layers, dA = dz @ W for 2), in the array library, into
    preallocated outputs: a lower bound for any implementation of this step.

Usage::

    .venv/bin/python bench/train_step.py [--rounds 15] [--threads 1] [--profile]
    .venv/bin/python bench/train_step.py --backend cupy   # the library on CuPy vs torch CUDA

The machines set OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which slow OpenBLAS down; this script
re-executes itself once with both removed before NumPy is imported (only here, in this process).
The last line printed is ``train_step: course/torch=R1 course/gemm=R2`` (R < 1 means faster).
"""
from __future__ import annotations

import os
import sys

_MARKER = "FNN_COURSE_BENCH_REEXEC"
_SLOW_OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _reexec_without_openblas_overrides():
    """Restart this script once without the OpenBLAS overrides (must run before numpy loads)."""
    if os.environ.get(_MARKER) == "1":
        return
    if not any(name in os.environ for name in _SLOW_OPENBLAS_VARS):
        return
    env = {k: v for k, v in os.environ.items() if k not in _SLOW_OPENBLAS_VARS}
    env[_MARKER] = "1"
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)


if __name__ == "__main__":
    _reexec_without_openblas_overrides()

# The imports below must come after the re-exec, so that OpenBLAS reads the cleaned environment.
import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from course.backend import to_numpy  # noqa: E402
from course.network import MLP  # noqa: E402
from course.optim import sgd_step  # noqa: E402

LAYER_SIZES = (784, 256, 128, 10)
TORCH_HINT = "install it with `.venv/bin/pip install torch==2.13.0` (or `pip install -e '.[bench]'`)"


def blas_info():
    """(library name, threads, architecture) of the BLAS NumPy uses."""
    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
            return pool.get("internal_api", "?"), int(pool["num_threads"]), pool.get("architecture", "?")
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return pool.get("internal_api", "?"), int(pool["num_threads"]), pool.get("architecture", "?")
    return "unknown", os.cpu_count() or 1, "?"


def make_batch(batch, rng):
    """Random float32 inputs in [0, 1) of shape (batch, 784) and labels 0..9 of shape (batch,)."""
    X = rng.random((batch, LAYER_SIZES[0]), dtype=np.float32)
    y = rng.integers(0, LAYER_SIZES[-1], size=batch).astype(np.int64)
    return X, y


# ---------------------------------------------------------------------------- contenders
def course_step_fn(X, y, lr, backend):
    """The course library's step on ``backend`` ('numpy' or 'cupy'); returns (step, model)."""
    model = MLP(list(LAYER_SIZES), hidden_activation="relu", output="softmax",
                rng=np.random.default_rng(0), dtype="float32", backend=backend)
    xp = model.xp
    Xb, yb = xp.asarray(X), xp.asarray(y)

    def step():
        _, grads = model.backward(Xb, yb)
        sgd_step(model.params, grads, lr)

    return step, model


def gemm_step_fn(batch, xp, rng):
    """Only the 8 matrix products of one step, into preallocated outputs."""
    n0, n1, n2, n3 = LAYER_SIZES

    def arr(*shape):
        return xp.asarray(rng.standard_normal(shape, dtype=np.float32))

    X, A1, A2 = arr(batch, n0), arr(batch, n1), arr(batch, n2)
    W1, W2, W3 = arr(n1, n0), arr(n2, n1), arr(n3, n2)
    dZ1, dZ2, dZ3 = arr(batch, n1), arr(batch, n2), arr(batch, n3)
    Z1, Z2, Z3 = (xp.empty((batch, n), dtype=xp.float32) for n in (n1, n2, n3))
    dW1, dW2, dW3 = (xp.empty_like(W) for W in (W1, W2, W3))
    dA1, dA2 = xp.empty_like(A1), xp.empty_like(A2)
    mm = xp.matmul

    def step():
        mm(X, W1.T, out=Z1)
        mm(A1, W2.T, out=Z2)
        mm(A2, W3.T, out=Z3)
        mm(dZ3.T, A2, out=dW3)
        mm(dZ3, W3, out=dA2)
        mm(dZ2.T, A1, out=dW2)
        mm(dZ2, W2, out=dA1)
        mm(dZ1.T, X, out=dW1)

    return step


def torch_step_fn(X, y, lr, model, device):
    """The same step in PyTorch, starting from the course model's initial weights.

    Returns ``(step, gradients)``; ``gradients()`` gives the dL/dW, dL/db of one backward pass
    as NumPy arrays, in the layout of ``course`` (W (n_out, n_in), b (n_out,)).
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    layers = []
    for index, layer in enumerate(model.params):
        linear = nn.Linear(layer["W"].shape[1], layer["W"].shape[0])
        with torch.no_grad():  # same layout: W (n_out, n_in), b (n_out,)
            linear.weight.copy_(torch.from_numpy(to_numpy(layer["W"]).copy()))
            linear.bias.copy_(torch.from_numpy(to_numpy(layer["b"]).copy()))
        layers.append(linear)
        if index < len(model.params) - 1:
            layers.append(nn.ReLU())
    net = nn.Sequential(*layers).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    Xt = torch.from_numpy(X).to(device)
    yt = torch.from_numpy(y).to(device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(Xt), yt)
        loss.backward()
        optimizer.step()

    def gradients():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(net(Xt), yt).backward()
        linears = [m for m in net if isinstance(m, nn.Linear)]
        return [{"W": m.weight.grad.cpu().numpy(), "b": m.bias.grad.cpu().numpy()} for m in linears]

    return step, gradients


def max_gradient_difference(model, X, y, torch_gradients):
    """Largest relative difference between the course and torch gradients (same weights)."""
    xp = model.xp
    _, grads = model.backward(xp.asarray(X), xp.asarray(y))
    worst = 0.0
    for ours, theirs in zip(grads, torch_gradients()):
        for key in ("W", "b"):
            a, b = to_numpy(ours[key]).astype(np.float64), theirs[key].astype(np.float64)
            worst = max(worst, float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30)))
    return worst


# ---------------------------------------------------------------------------- timing
def time_interleaved(steps, sync, rounds, samples_per_block, inner, settle):
    """Median seconds per step of each callable, timed in interleaved blocks.

    Each round gives every contender one block (the order rotates from round to round). A block
    first runs the contender untimed for ``settle`` seconds, so that worker threads left spinning
    by the previous contender (OpenBLAS and OpenMP keep theirs busy for a while after a parallel
    call) have gone to sleep, then times ``samples_per_block`` samples of ``inner`` steps each.
    """
    names = list(steps)
    samples = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            step, wait = steps[name], sync[name]
            deadline = time.perf_counter() + settle
            step()
            while time.perf_counter() < deadline:
                step()
            wait()
            for _ in range(samples_per_block):
                start = time.perf_counter()
                for _ in range(inner):
                    step()
                wait()
                samples[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(values) for name, values in samples.items()}, samples


def profile_course_step(step, sync, count=50):
    """Print where the course step spends its time (cProfile: own time, then course functions)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        step()
    sync()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    print(f"\nprofile of {count} course steps, top functions by own time:")
    stats.sort_stats("tottime").print_stats(12)
    print("course functions by cumulative time:")
    stats.sort_stats("cumulative").print_stats(r"(network|layers|losses|activations|validation|optim)\.py", 14)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                        help="array library of the course model (cupy: GPU, compared with torch CUDA)")
    parser.add_argument("--batch", type=int, default=256, help="batch size B (default 256)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--samples", type=int, default=5, help="timed samples per block (default 5)")
    parser.add_argument("--inner", type=int, default=5, help="steps per timed sample (default 5)")
    parser.add_argument("--settle", type=float, default=0.1,
                        help="untimed seconds at the start of each block (default 0.1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and torch (default: NumPy's BLAS default)")
    parser.add_argument("--profile", action="store_true", help="also profile the course step")
    args = parser.parse_args(argv)
    for name in ("batch", "rounds", "samples", "inner"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a positive integer, got {args.threads}")
    if not args.settle >= 0:
        parser.error(f"--settle must be >= 0 seconds, got {args.settle}")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        import torch
    except ImportError:
        print(f"train_step: PyTorch is not installed; {TORCH_HINT}", file=sys.stderr)
        return 2

    if args.threads is not None:
        threadpool_limits(limits=args.threads, user_api="blas")
    blas, threads, arch = blas_info()
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    X, y = make_batch(args.batch, rng)
    lr = 0.01

    if args.backend == "cupy":
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
        except Exception as err:  # ImportError, or CUDA errors when there is no GPU
            print(f"train_step: --backend cupy needs CuPy and a CUDA GPU ({err})", file=sys.stderr)
            return 2
    course_step, model = course_step_fn(X, y, lr, args.backend)
    steps, sync = {"course": course_step}, {}
    if args.backend == "cupy":

        def sync_gpu():
            cupy.cuda.Device().synchronize()

        sync["course"] = sync_gpu
        steps["gemm"], sync["gemm"] = gemm_step_fn(args.batch, cupy, rng), sync_gpu
        torch_gradients = None
        if torch.cuda.is_available():
            steps["torch"], torch_gradients = torch_step_fn(X, y, lr, model, "cuda")
            sync["torch"] = torch.cuda.synchronize
        else:
            print("torch has no CUDA device here: skipping the torch comparison")
        device = f"CuPy {cupy.__version__} on {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}"
    else:
        steps["torch"], torch_gradients = torch_step_fn(X, y, lr, model, "cpu")
        steps["gemm"] = gemm_step_fn(args.batch, np, rng)
        sync = {name: (lambda: None) for name in steps}
        device = f"CPU, {blas} ({arch}), {threads} BLAS threads"

    overrides = [name for name in _SLOW_OPENBLAS_VARS if name in os.environ]
    print(f"train_step: MLP {'-'.join(map(str, LAYER_SIZES))}, batch {args.batch}, float32, one SGD step")
    print(f"device: {device}; torch {torch.__version__} with {torch.get_num_threads()} threads")
    print(f"OpenBLAS overrides in this process: {', '.join(overrides) if overrides else 'none'}")
    if torch_gradients is not None:
        difference = max_gradient_difference(model, X, y, torch_gradients)
        print(f"same step: course and torch gradients differ by at most {difference:.1e} (relative, float32)")
        if difference > 1e-4:
            print("train_step: course and torch compute different gradients", file=sys.stderr)
            return 1
    medians, samples = time_interleaved(steps, sync, args.rounds, args.samples, args.inner, args.settle)

    print(f"\n{'contender':<10}{'median ms':>11}{'min ms':>9}{'max ms':>9}{'vs course':>11}")
    for name in ("course", "torch", "gemm"):
        if name not in medians:
            continue
        m = medians[name]
        print(f"{name:<10}{m * 1e3:>11.3f}{min(samples[name]) * 1e3:>9.3f}"
              f"{max(samples[name]) * 1e3:>9.3f}{medians['course'] / m:>10.2f}x")
    if args.profile:
        profile_course_step(course_step, sync["course"])

    r_torch = medians["course"] / medians["torch"] if "torch" in medians else float("nan")
    r_gemm = medians["course"] / medians["gemm"]
    print(f"train_step: course/torch={r_torch:.2f} course/gemm={r_gemm:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
