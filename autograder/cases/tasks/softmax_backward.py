"""Cases of the ``softmax_backward`` assignment: softmax, its Jacobian, and loss gradients.

====================================  ==============================  =======
function                              test cell                       points
====================================  ==============================  =======
softmax(z)                            test_softmax                    2
softmax_jacobian(y)                   test_softmax_jacobian           2
softmax_vjp(y, g)                     test_softmax_vjp                3
cross_entropy_grad(y_hat, Y)          test_cross_entropy_grad         2
softmax_ce_grad(z, Y)                 test_softmax_ce_grad            2
numerical_gradient(f, x, h=1e-5)      test_numerical_gradient         3
====================================  ==============================  =======

plus the written answer ``written_ce_vs_mse`` (3 points, graded by hand).
"""
from __future__ import annotations

import numpy as np

from course import activations, gradcheck, losses

from .. import testfuncs
from ..compare import check_array
from ..spec import AssignmentSpec, CallableArg, Case
from autograder.cases.helpers import as_float64, distinct_sizes, one_hot_labels

NAME = "softmax_backward"
NONFINITE_SOFTMAX = ("output contains NaN/inf for logits of 1000: subtract the max of each row "
                     "before exp (softmax(z) = softmax(z - max z))")


def _logits(fixed=None, extreme=False):
    def make(rng):
        B, K = fixed or distinct_sizes(rng, 2, 2, 10)
        z = rng.standard_normal((B, K)) * 2.0
        if extreme:
            z[0, :] += 1000.0
            z[-1, :] -= 1000.0
            z[1 % B, 0] = 1000.0
        return {"z": z}
    return make


def _ref_softmax(z):
    return as_float64(activations.softmax(z))


def _cmp_softmax(actual, expected, inputs):
    z = inputs["z"]
    return check_array(actual, expected, name="softmax(z)", batch_size=z.shape[0],
                       nonfinite_hint=NONFINITE_SOFTMAX, hints=[
        (lambda: np.exp(z - z.max()) / np.exp(z - z.max()).sum(axis=0, keepdims=True),
         "normalise each ROW (one example per row): sum over axis=1 with keepdims=True"),
        (lambda: np.exp(z - z.max()) / np.exp(z - z.max()).sum(),
         "normalise each row separately, not the whole batch at once"),
    ])


def _probs(fixed=None):
    def make(rng):
        K = fixed or distinct_sizes(rng, 1, 3, 9)[0]
        return {"y": as_float64(activations.softmax(rng.standard_normal(K)))}
    return make


def _ref_jacobian(y):
    return as_float64(activations.softmax_jacobian(y))


def _cmp_jacobian(actual, expected, inputs):
    y = inputs["y"]
    return check_array(actual, expected, name="J", hints=[
        (lambda: -np.outer(y, y), "the diagonal needs the extra y_i: J[i, i] = y_i (1 - y_i)"),
        (lambda: np.diag(y * (1 - y)), "off-diagonal entries are -y_i y_j, not 0"),
    ])


def _vjp_inputs(fixed=None):
    def make(rng):
        B, K = fixed or distinct_sizes(rng, 2, 2, 10)
        return {"y": as_float64(activations.softmax(rng.standard_normal((B, K)) * 2)),
                "g": rng.standard_normal((B, K))}
    return make


def _ref_vjp(y, g):
    return as_float64(activations.softmax_vjp(y, g))


def _cmp_vjp(actual, expected, inputs):
    y, g = inputs["y"], inputs["g"]
    return check_array(actual, expected, name="J^T g", batch_size=y.shape[0], hints=[
        (lambda: y * (g - np.sum(g * y)), "sum g * y per example (axis=1, keepdims=True), not over the batch"),
        (lambda: y * g, "missing the - sum_k g_k y_k term of J^T g"),
    ])


def _ce_inputs(fixed=None):
    def make(rng):
        B, K = fixed or distinct_sizes(rng, 2, 2, 10)
        y_hat = as_float64(activations.softmax(rng.standard_normal((B, K))))
        return {"y_hat": y_hat, "Y": one_hot_labels(rng, B, K)}
    return make


def _ref_ce_grad(y_hat, Y):
    return as_float64(losses.cross_entropy(y_hat, Y)[1])


def _cmp_ce_grad(actual, expected, inputs):
    B = inputs["y_hat"].shape[0]
    return check_array(actual, expected, name="dL/dy_hat", batch_size=B, hints=[
        (lambda: expected * B, "the loss is the MEAN over the batch: divide by B"),
        (lambda: -expected, "sign: dL/dy_hat = -Y / y_hat / B"),
    ])


def _sce_inputs(fixed=None, extreme=False):
    def make(rng):
        z = _logits(fixed, extreme)(rng)["z"]
        return {"z": z, "Y": one_hot_labels(rng, z.shape[0], z.shape[1])}
    return make


def _ref_sce_grad(z, Y):
    return as_float64(losses.softmax_cross_entropy(z, Y)[1])


def _cmp_sce_grad(actual, expected, inputs):
    B = inputs["z"].shape[0]
    return check_array(actual, expected, name="dL/dz", batch_size=B, nonfinite_hint=NONFINITE_SOFTMAX,
                       hints=[
        (lambda: expected * B, "the loss is the MEAN over the batch: divide by B"),
        (lambda: -expected, "sign: dL/dz = (y_hat - Y) / B"),
    ])


def _numgrad_inputs(kind):
    def make(rng):
        if kind == "weighted_square":
            shape = (3, 4)
            arrays = {"c": rng.uniform(0.5, 2.0, shape), "d": rng.standard_normal(shape)}
        elif kind == "sine_sum":
            shape = (int(rng.integers(4, 9)),)
            arrays = {"a": rng.uniform(0.5, 3.0, shape)}
        else:
            B, K = distinct_sizes(rng, 2, 2, 7)
            shape = (B, K)
            arrays = {"Y": one_hot_labels(rng, B, K)}
        return {"f": CallableArg(kind, arrays), "x": rng.standard_normal(shape), "h": 1e-5}
    return make


def _ref_numgrad(f, x, h):
    if isinstance(f, CallableArg):
        f = testfuncs.build(f.name, f.arrays)
    x = np.array(x, dtype=np.float64, copy=True)
    return as_float64(gradcheck.numerical_gradient(lambda: f(x), x, h=h))


def _forward_difference(f, x, h):
    x = np.array(x, copy=True)
    f0, out = f(x), np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        out[i] = (f(x) - f0) / h
        x[i] = old
    return out


def _cmp_numgrad(actual, expected, inputs):
    f = testfuncs.build(inputs["f"].name, inputs["f"].arrays)
    x, h = inputs["x"], inputs["h"]
    return check_array(actual, expected, name="numerical gradient", hints=[
        (lambda: _forward_difference(f, x, h),
         "that is a one-sided difference; use (f(x + h e_i) - f(x - h e_i)) / (2 h)"),
        (lambda: expected * 2.0, "divide by 2 h, not h"),
    ])


def _case(name, function, make, ref, cmp, points, hidden=False):
    return Case(name=name, function=function, make_inputs=make, reference=ref, compare=cmp,
                points=points, grade_id=f"test_{function}", hidden=hidden)


CASES = (
    _case("softmax on a (6, 4) batch", "softmax", _logits((6, 4)), _ref_softmax, _cmp_softmax, 0.5),
    _case("softmax with logits of +-1000", "softmax", _logits((5, 3), True), _ref_softmax,
          _cmp_softmax, 0.5),
    _case("softmax, random sizes and large logits", "softmax", _logits(None, True), _ref_softmax,
          _cmp_softmax, 1.0, True),
    _case("softmax_jacobian, K=5", "softmax_jacobian", _probs(5), _ref_jacobian, _cmp_jacobian, 1.0),
    _case("softmax_jacobian, random K", "softmax_jacobian", _probs(), _ref_jacobian, _cmp_jacobian,
          1.0, True),
    _case("softmax_vjp, B=6, K=4", "softmax_vjp", _vjp_inputs((6, 4)), _ref_vjp, _cmp_vjp, 1.5),
    _case("softmax_vjp, random sizes", "softmax_vjp", _vjp_inputs(), _ref_vjp, _cmp_vjp, 1.5, True),
    _case("cross_entropy_grad, B=6, K=4", "cross_entropy_grad", _ce_inputs((6, 4)), _ref_ce_grad,
          _cmp_ce_grad, 1.0),
    _case("cross_entropy_grad, random sizes", "cross_entropy_grad", _ce_inputs(), _ref_ce_grad,
          _cmp_ce_grad, 1.0, True),
    _case("softmax_ce_grad, B=6, K=4", "softmax_ce_grad", _sce_inputs((6, 4)), _ref_sce_grad,
          _cmp_sce_grad, 1.0),
    _case("softmax_ce_grad, random sizes and logits of +-1000", "softmax_ce_grad",
          _sce_inputs(None, True), _ref_sce_grad, _cmp_sce_grad, 1.0, True),
    _case("numerical_gradient of sum(c x^2) + sum(d x), x (3, 4)", "numerical_gradient",
          _numgrad_inputs("weighted_square"), _ref_numgrad, _cmp_numgrad, 1.5),
    _case("numerical_gradient of sum(sin(a x))", "numerical_gradient", _numgrad_inputs("sine_sum"),
          _ref_numgrad, _cmp_numgrad, 0.75, True),
    _case("numerical_gradient of a softmax cross-entropy", "numerical_gradient",
          _numgrad_inputs("softmax_ce"), _ref_numgrad, _cmp_numgrad, 0.75, True),
)

SPEC = AssignmentSpec(
    name=NAME,
    notebook=f"{NAME}.ipynb",
    functions=("softmax", "softmax_jacobian", "softmax_vjp", "cross_entropy_grad", "softmax_ce_grad",
               "numerical_gradient"),
    cases=CASES,
    written={"written_ce_vs_mse": 3.0},
)
