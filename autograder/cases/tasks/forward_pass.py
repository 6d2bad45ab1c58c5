"""Cases of the ``forward_pass`` assignment: activations, affine layers, the deck-000 network.

Graded functions and their test cells (points per cell = sum of its cases' points):

====================================  ==============================  =======
function                              test cell                       points
====================================  ==============================  =======
relu(z)                               test_relu                       1
sigmoid(z)                            test_sigmoid                    2
affine_forward(x, W, b)               test_affine_forward             2
affine_forward_augmented(x, W_tilde)  test_affine_forward_augmented   2
network_forward(X, params)            test_network_forward            4
count_parameters(N, K, J)             test_count_parameters           1
predict(y_hat, threshold=0.5)         test_predict                    1
====================================  ==============================  =======

plus the written answer ``written_relu_subgradient`` (2 points, graded by hand).
"""
from __future__ import annotations

import numpy as np

from course import activations, layers
from course.network import MLP

from ..compare import check_array, check_int
from ..spec import AssignmentSpec, Case
from autograder.cases.helpers import as_float64, distinct_sizes, random_params

NAME = "forward_pass"


# ----------------------------------------------------------------------------- activations
def _z(shape, scale=3.0):
    def make(rng):
        z = rng.standard_normal(shape) * scale
        z.flat[:: max(1, z.size // 4)] = 0.0  # exact zeros, where ReLU has its kink
        return {"z": z}
    return make


def _z_extreme(rng):
    z = np.array([[-1000.0, -745.0, -50.0, 0.0], [1e-3, 50.0, 745.0, 1000.0], [-3.0, -0.5, 0.5, 3.0]])
    return {"z": z}


def _ref_relu(z):
    return as_float64(activations.relu(z))


def _ref_sigmoid(z):
    return as_float64(activations.sigmoid(z))


def _cmp_relu(actual, expected, inputs):
    z = inputs["z"]
    return check_array(actual, expected, name="relu(z)", hints=[
        (lambda: np.abs(z), "relu(z) = max(z, 0) keeps 0 for negative z (not |z|)"),
        (lambda: (z > 0).astype(float), "that is the derivative; relu returns max(z, 0)"),
    ])


def _cmp_sigmoid(actual, expected, inputs):
    z = inputs["z"]
    return check_array(actual, expected, name="sigmoid(z)", nonfinite_hint=(
        "sigmoid must be finite for |z| ~ 1000: never divide inf by inf; use exp(-|z|), e.g. "
        "np.where(z >= 0, 1 / (1 + exp(-z)), exp(z) / (1 + exp(z))) computed on safe values"),
        hints=[(lambda: 1.0 / (1.0 + np.exp(np.clip(z, -700, 700))), "sign: sigmoid(z) = 1 / (1 + exp(-z))")])


# ----------------------------------------------------------------------------- affine layers
def _affine_inputs(fixed=None):
    def make(rng):
        B, n_in, n_out = fixed or distinct_sizes(rng, 3)
        return {"x": rng.standard_normal((B, n_in)), "W": rng.standard_normal((n_out, n_in)),
                "b": rng.standard_normal(n_out)}
    return make


def _ref_affine(x, W, b):
    return as_float64(layers.linear_forward(x, W, b)[0])


def _cmp_affine(actual, expected, inputs):
    x, W = inputs["x"], inputs["W"]
    return check_array(actual, expected, name="z", batch_size=x.shape[0], hints=[
        (lambda: x @ W.T, "did you forget to add the bias b?"),
    ])


def _augmented_inputs(fixed=None):
    def make(rng):
        B, n_in, n_out = fixed or distinct_sizes(rng, 3)
        return {"x": rng.standard_normal((B, n_in)), "W_tilde": rng.standard_normal((n_out, n_in + 1))}
    return make


def _ref_augmented(x, W_tilde):
    return as_float64(layers.augmented_linear_forward(x, W_tilde)[0])


def _cmp_augmented(actual, expected, inputs):
    x, Wt = inputs["x"], inputs["W_tilde"]
    return check_array(actual, expected, name="z", batch_size=x.shape[0], hints=[
        (lambda: x @ Wt[:, :-1].T + Wt[:, -1],
         "the bias is the FIRST column of W_tilde = [b | W] (the weight of the dummy input x0 = 1)"),
    ])


# ----------------------------------------------------------------------------- the network
def _network_inputs(fixed=None):
    def make(rng):
        B, N, K, J = fixed or distinct_sizes(rng, 4, 2, 14)
        return {"X": rng.standard_normal((B, N)), "params": random_params(rng, [N, K, J, 1])}
    return make


def _network_logits(X, params):
    a = X
    for layer in (1, 2):
        z, _ = layers.linear_forward(a, params[f"W{layer}"], params[f"b{layer}"])
        a = activations.relu(z)
    z3, _ = layers.linear_forward(a, params["W3"], params["b3"])
    return as_float64(z3)[:, 0]


def _ref_network(X, params):
    return as_float64(activations.sigmoid(_network_logits(X, params)))


def _cmp_network(actual, expected, inputs):
    X, params = inputs["X"], inputs["params"]
    return check_array(actual, expected, name="y_hat", batch_size=X.shape[0], hints=[
        (lambda: _network_logits(X, params), "did you forget the sigmoid on the output layer?"),
        (lambda: np.maximum(_network_logits(X, params), 0.0),
         "the output layer uses a sigmoid, not ReLU"),
    ])


# ----------------------------------------------------------------------------- counting, predicting
def _count_inputs(fixed=None):
    def make(rng):
        N, K, J = fixed or distinct_sizes(rng, 3, 2, 300)
        return {"N": N, "K": K, "J": J}
    return make


def _ref_count(N, K, J):
    return sum(MLP([N, K, J, 1], output="sigmoid").parameter_counts())


def _cmp_count(actual, expected, inputs):
    ok, msg = check_int(actual, expected, name="count_parameters(N, K, J)")
    N, K, J = inputs["N"], inputs["K"], inputs["J"]
    if not ok and type(actual) is int and actual == N * K + K * J + J:
        msg += ": did you forget the biases (weights of the dummy inputs)?"
    return ok, msg


def _predict_inputs(threshold=None):
    def make(rng):
        y_hat = rng.uniform(0.0, 1.0, size=int(rng.integers(6, 15)))
        t = float(rng.uniform(0.2, 0.8)) if threshold is None else threshold
        y_hat[:2] = t  # exactly at the threshold: counts as class 1
        return {"y_hat": y_hat, "threshold": t}
    return make


def _ref_predict(y_hat, threshold):
    return np.where(y_hat >= threshold, 1, 0).astype(np.int64)


def _cmp_predict(actual, expected, inputs):
    return check_array(actual, expected, name="labels", batch_size=inputs["y_hat"].shape[0])


# ----------------------------------------------------------------------------- spec
def _case(name, function, make, ref, cmp, points, hidden=False):
    return Case(name=name, function=function, make_inputs=make, reference=ref, compare=cmp,
                points=points, grade_id=f"test_{function}", hidden=hidden)


CASES = (
    _case("relu on a (7, 5) batch", "relu", _z((7, 5)), _ref_relu, _cmp_relu, 0.5),
    _case("relu on a (3, 4, 2) array", "relu", _z((3, 4, 2)), _ref_relu, _cmp_relu, 0.5, True),
    _case("sigmoid on a (6, 4) batch", "sigmoid", _z((6, 4)), _ref_sigmoid, _cmp_sigmoid, 0.5),
    _case("sigmoid at z = +-1000", "sigmoid", _z_extreme, _ref_sigmoid, _cmp_sigmoid, 0.5),
    _case("sigmoid on a (2, 3, 5) array", "sigmoid", _z((2, 3, 5), 20.0), _ref_sigmoid,
          _cmp_sigmoid, 1.0, True),
    _case("affine_forward, B=7, n_in=5, n_out=3", "affine_forward", _affine_inputs((7, 5, 3)),
          _ref_affine, _cmp_affine, 1.0),
    _case("affine_forward, random sizes", "affine_forward", _affine_inputs(), _ref_affine,
          _cmp_affine, 1.0, True),
    _case("affine_forward_augmented, B=7, n_in=5, n_out=3", "affine_forward_augmented",
          _augmented_inputs((7, 5, 3)), _ref_augmented, _cmp_augmented, 1.0),
    _case("affine_forward_augmented, random sizes", "affine_forward_augmented",
          _augmented_inputs(), _ref_augmented, _cmp_augmented, 1.0, True),
    _case("network_forward, B=7, N=6, K=5, J=4", "network_forward", _network_inputs((7, 6, 5, 4)),
          _ref_network, _cmp_network, 2.0),
    _case("network_forward, random sizes", "network_forward", _network_inputs(), _ref_network,
          _cmp_network, 1.0, True),
    _case("network_forward, random sizes (2)", "network_forward", _network_inputs(), _ref_network,
          _cmp_network, 1.0, True),
    _case("count_parameters(64, 16, 8)", "count_parameters", _count_inputs((64, 16, 8)),
          _ref_count, _cmp_count, 0.5),
    _case("count_parameters, random sizes", "count_parameters", _count_inputs(), _ref_count,
          _cmp_count, 0.5, True),
    _case("predict at threshold 0.5", "predict", _predict_inputs(0.5), _ref_predict,
          _cmp_predict, 0.5),
    _case("predict at a random threshold", "predict", _predict_inputs(), _ref_predict,
          _cmp_predict, 0.5, True),
)

SPEC = AssignmentSpec(
    name=NAME,
    notebook=f"{NAME}.ipynb",
    functions=("relu", "sigmoid", "affine_forward", "affine_forward_augmented", "network_forward",
               "count_parameters", "predict"),
    cases=CASES,
    written={"written_relu_subgradient": 2.0},
)
