"""Cases of the ``vectorized_gradients`` assignment: batch backprop, SGD, a digits classifier.

The network is X -> ReLU -> ReLU -> softmax with the mean softmax cross-entropy; parameters are
a dict ``{"W1": (K, N), "b1": (K,), "W2": (J, K), "b2": (J,), "W3": (C, J), "b3": (C,)}``.

======================================  ==============================  =======
function                                test cell                       points
======================================  ==============================  =======
backprop(X, Y, params)                  test_backprop                   6
backprop(X, Y, params), B=2048, timed   test_backprop_vectorized        2
sgd_step(params, grads, lr)             test_sgd_step                   2
train_classifier(X_train, y_train)      test_train_classifier           5
======================================  ==============================  =======

plus the written answer ``written_per_example_vs_batch`` (2 points, graded by hand).

Vectorization: ``backprop`` on B=2048 is timed against ``autograder.cases.testfuncs.baseline_backprop``
in the same process; more than :data:`MAX_SLOWDOWN` times slower loses those points.
Accuracy: the trained parameters are scored on the held-out quarter of the 8x8 digits
(``course.data.train_test_split(seed=SPLIT_SEED, test_fraction=0.25)``): full marks from
:data:`FULL_MARKS_ACCURACY`, linear partial credit from :data:`ZERO_CREDIT_ACCURACY`.
"""
from __future__ import annotations

import numpy as np

from course import activations, data, layers, losses, optim

from ..compare import check_dict, kind_of
from ..spec import AssignmentSpec, Case
from autograder.cases.helpers import as_float64, distinct_sizes, one_hot_labels, random_params

NAME = "vectorized_gradients"
KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")
MAX_SLOWDOWN = 10.0
"""A backprop more than this many times slower than the vectorized baseline loses the points."""
SPLIT_SEED = 0
TEST_FRACTION = 0.25
FULL_MARKS_ACCURACY = 0.95
ZERO_CREDIT_ACCURACY = 0.80
NUM_CLASSES = 10


def training_data() -> tuple[np.ndarray, np.ndarray]:
    """X_train (1347, 64) in [0, 1] and y_train (1347,) int: the part of the digits students see."""
    X, y = data.load_digits()
    X_train, _, y_train, _ = data.train_test_split(X, y, test_fraction=TEST_FRACTION, seed=SPLIT_SEED)
    return X_train, y_train


def held_out_data() -> tuple[np.ndarray, np.ndarray]:
    """X_test (450, 64) and y_test (450,): the held-out quarter used only for grading."""
    X, y = data.load_digits()
    _, X_test, _, y_test = data.train_test_split(X, y, test_fraction=TEST_FRACTION, seed=SPLIT_SEED)
    return X_test, y_test


def forward_logits(X, params) -> np.ndarray:
    """Logits (B, C) of the 3-layer ReLU network, computed with ``course.layers``."""
    a = X
    for layer in (1, 2):
        z, _ = layers.linear_forward(a, params[f"W{layer}"], params[f"b{layer}"])
        a = activations.relu(z)
    return as_float64(layers.linear_forward(a, params["W3"], params["b3"])[0])


def reference_backprop(X, Y, params) -> dict[str, np.ndarray]:
    """Gradients of the mean softmax-CE, eq. 23a-d, with ``course.layers`` / ``course.losses``."""
    lin_caches, act_caches, a = [], [], X
    for layer in (1, 2, 3):
        z, cache = layers.linear_forward(a, params[f"W{layer}"], params[f"b{layer}"])
        lin_caches.append(cache)
        if layer < 3:
            a, cache = layers.activation_forward(z, "relu")
            act_caches.append(cache)
    _, dz = losses.softmax_cross_entropy(z, Y)  # (softmax(z) - Y) / B, eq. 23d
    grads = {}
    for layer in (3, 2, 1):
        da, grads[f"W{layer}"], grads[f"b{layer}"] = layers.linear_backward(dz, lin_caches[layer - 1])
        if layer > 1:
            dz = layers.activation_backward(da, act_caches[layer - 2])  # eq. 23c
    return {k: as_float64(grads[k]) for k in KEYS}


# ----------------------------------------------------------------------------- backprop
def _backprop_inputs(fixed=None):
    def make(rng):
        B, N, K, J, C = fixed or distinct_sizes(rng, 5, 2, 13)
        return {"X": rng.standard_normal((B, N)), "Y": one_hot_labels(rng, B, C),
                "params": random_params(rng, [N, K, J, C])}
    return make


def _ref_backprop(X, Y, params):
    return reference_backprop(X, Y, params)


def _cmp_backprop(actual, expected, inputs):
    B = inputs["X"].shape[0]
    hints = {}
    for key in KEYS:
        hints[key] = [
            (lambda key=key: expected[key] * B, "the loss is the MEAN over the batch: divide by B"),
            (lambda key=key: expected[key] / B, "divided by B twice? dz already carries the 1/B"),
        ]
    return check_dict(actual, expected, name="grads", batch_size=B, key_hints=hints)


def _cmp_timing(actual, expected, inputs):
    if type(actual) is not dict:
        return False, f"timing result should be a dict, got {kind_of(actual)}"
    ok, msg = _cmp_backprop(actual.get("output"), expected, inputs)
    if not ok:
        return False, "wrong gradients on the B=2048 batch:\n" + msg
    times = [actual.get("student_s"), actual.get("baseline_s")]
    if any(type(t) is not float or not np.isfinite(t) or t <= 0 for t in times):
        return False, "no valid timing was recorded"
    ratio = times[0] / times[1]
    report = (f"backprop on B={inputs['X'].shape[0]} took {times[0] * 1e3:.1f} ms, "
              f"{ratio:.1f}x a vectorized baseline ({times[1] * 1e3:.2f} ms)")
    if ratio > MAX_SLOWDOWN:
        return False, (f"{report}, more than {MAX_SLOWDOWN:g}x: this looks like a Python loop over "
                       "examples; use matrix products over the whole batch (eq. 23a-d)")
    return True, report


# ----------------------------------------------------------------------------- sgd_step
def _sgd_inputs(fixed_lr=None):
    def make(rng):
        N, K, J, C = distinct_sizes(rng, 4, 2, 10)
        params = random_params(rng, [N, K, J, C])
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        lr = fixed_lr if fixed_lr is not None else float(rng.uniform(0.01, 0.5))
        return {"params": params, "grads": grads, "lr": lr}
    return make


def _ref_sgd(params, grads, lr):
    layered = [{"W": params[f"W{i}"].copy(), "b": params[f"b{i}"].copy()} for i in (1, 2, 3)]
    optim.sgd_step(layered, [{"W": grads[f"W{i}"], "b": grads[f"b{i}"]} for i in (1, 2, 3)], lr)
    return {f"{p}{i}": layered[i - 1][p] for i in (1, 2, 3) for p in ("W", "b")}


def _cmp_sgd(actual, expected, inputs):
    params, grads, lr = inputs["params"], inputs["grads"], inputs["lr"]
    hints = {k: [(lambda k=k: params[k] + lr * grads[k], "step AGAINST the gradient: params - lr * grads")]
             for k in KEYS}
    return check_dict(actual, expected, name="new params", key_hints=hints)


# ----------------------------------------------------------------------------- train_classifier
def _train_inputs(rng):
    X_train, y_train = training_data()
    return {"X_train": X_train, "y_train": y_train}


def _ref_held_out(X_train, y_train):
    X_test, y_test = held_out_data()
    return {"X_test": X_test, "y_test": y_test}


def accuracy_credit(accuracy: float) -> float:
    """Fraction of the points: 1 from 95%, linear down to 0 at 80%."""
    span = FULL_MARKS_ACCURACY - ZERO_CREDIT_ACCURACY
    return float(np.clip((accuracy - ZERO_CREDIT_ACCURACY) / span, 0.0, 1.0))


def _param_problems(params, n_in: int) -> str:
    if type(params) is not dict:
        return f"train_classifier should return a dict of parameters, got {kind_of(params)}"
    missing = [k for k in KEYS if k not in params]
    if missing:
        return f"the returned parameters are missing {missing}"
    for key in KEYS:
        value = params[key]
        if type(value) is not np.ndarray or value.dtype != np.float64:
            return f"{key} should be a float64 ndarray, got {kind_of(value)}"
        if not bool(np.all(np.isfinite(value))):
            return f"{key} contains NaN or inf: was the learning rate too large?"
    W1, b1, W2, b2, W3, b3 = (params[k] for k in KEYS)
    K, J = W1.shape[0] if W1.ndim == 2 else -1, W2.shape[0] if W2.ndim == 2 else -1
    wanted = {"W1": (K, n_in), "b1": (K,), "W2": (J, K), "b2": (J,), "W3": (NUM_CLASSES, J),
              "b3": (NUM_CLASSES,)}
    for key in KEYS:
        if params[key].shape != wanted[key]:
            return (f"{key} has shape {params[key].shape}, expected {wanted[key]} "
                    f"(W shapes are (n_out, n_in); {n_in} inputs, {NUM_CLASSES} classes)")
    return ""


def _cmp_accuracy(actual, expected, inputs):
    X_test, y_test = expected["X_test"], expected["y_test"]
    problem = _param_problems(actual, X_test.shape[1])
    if problem:
        return 0.0, problem
    params = {k: np.array(actual[k], dtype=np.float64, copy=True) for k in KEYS}
    predictions = np.argmax(forward_logits(X_test, params), axis=1)
    accuracy = float(np.mean(predictions == y_test))
    credit = accuracy_credit(accuracy)
    message = (f"held-out accuracy {accuracy:.1%} on {y_test.shape[0]} digits (full marks from "
               f"{FULL_MARKS_ACCURACY:.0%}, partial credit above {ZERO_CREDIT_ACCURACY:.0%}): "
               f"{credit:.0%} of the points")
    return credit, message


# ----------------------------------------------------------------------------- spec
CASES = (
    Case("backprop, B=7, N=6, K=5, J=4, C=3", "backprop", _backprop_inputs((7, 6, 5, 4, 3)),
         _ref_backprop, _cmp_backprop, 3.0, "test_backprop"),
    Case("backprop, random sizes", "backprop", _backprop_inputs(), _ref_backprop, _cmp_backprop,
         1.5, "test_backprop", hidden=True),
    Case("backprop, random sizes (2)", "backprop", _backprop_inputs(), _ref_backprop,
         _cmp_backprop, 1.5, "test_backprop", hidden=True),
    Case("backprop on B=2048 timed against a vectorized baseline", "backprop",
         _backprop_inputs((2048, 64, 16, 12, 10)), _ref_backprop, _cmp_timing, 2.0,
         "test_backprop_vectorized", kind="timing", baseline="baseline_backprop"),
    Case("sgd_step with lr=0.1", "sgd_step", _sgd_inputs(0.1), _ref_sgd, _cmp_sgd, 1.0,
         "test_sgd_step"),
    Case("sgd_step, random sizes and lr", "sgd_step", _sgd_inputs(), _ref_sgd, _cmp_sgd, 1.0,
         "test_sgd_step", hidden=True),
    Case("train_classifier: accuracy on the held-out digits", "train_classifier", _train_inputs,
         _ref_held_out, _cmp_accuracy, 5.0, "test_train_classifier", kind="accuracy"),
)

SPEC = AssignmentSpec(
    name=NAME,
    notebook=f"{NAME}.ipynb",
    functions=("backprop", "sgd_step", "train_classifier"),
    cases=CASES,
    written={"written_per_example_vs_batch": 2.0},
)
