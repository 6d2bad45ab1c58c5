"""Benchmark: how far the model answer of ``backprop``'s ``train_classifier`` clears full marks.

The grader trains each student's network (the variant of their id) on a split of MNIST drawn from
the course's secret, so the model answer must reach the full-marks accuracy on every variant and
every split, not on most. This trains the source notebook's solution on N (variant, split) draws,
as the grader would, and prints the held-out accuracies of the weakest draws and a summary.

Usage: ``python bench/training_margin.py [--n 120] [--jobs 2]``. The last line is
``training: min=X median=Y below_full_marks=K of N full_marks=F``.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.cases.tasks import get_spec  # noqa: E402
from tests import submissions as subs  # noqa: E402


def held_out_accuracy(draw: int) -> tuple[int, dict, float, float]:
    """Train the model answer on draw ``draw``: (draw, variant, accuracy, seconds)."""
    from threadpoolctl import threadpool_limits

    spec = get_spec("backprop")
    cases = sys.modules[spec.cases[0].reference.__module__]
    variant = spec.variant_of(f"student{draw}")
    split = cases.mnist_variant(np.random.default_rng([draw, 2026]))
    namespace = subs.solution_namespace("backprop")
    start = time.perf_counter()
    with threadpool_limits(limits=1):  # as in the grader's sandbox
        params = namespace["train_classifier"](split["X_train"], split["y_train"],
                                               variant["hidden_sizes"], variant["activations"])
    seconds = time.perf_counter() - start
    predictions = cases.logits(split["X_test"], params, variant["activations"]).argmax(axis=1)
    return draw, variant, float(np.mean(predictions == split["y_test"])), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120, help="number of (variant, split) draws")
    parser.add_argument("--jobs", type=int, default=2, help="trainings run at once")
    args = parser.parse_args()
    with multiprocessing.Pool(args.jobs) as pool:
        results = pool.map(held_out_accuracy, range(args.n))
    cases = sys.modules[get_spec("backprop").cases[0].reference.__module__]
    full = cases.FULL_MARKS_ACCURACY
    results.sort(key=lambda r: r[2])
    for draw, variant, accuracy, seconds in results[:5]:
        print(f"draw {draw:4d}  {variant['hidden_sizes']!s:16} {variant['activations']!s:34} "
              f"accuracy {accuracy:.2%}  {seconds:.1f} s")
    accuracies = [r[2] for r in results]
    below = sum(a < full for a in accuracies)
    print(f"training: min={min(accuracies):.4f} median={float(np.median(accuracies)):.4f} "
          f"below_full_marks={below} of {len(accuracies)} full_marks={full}")


if __name__ == "__main__":
    main()
