"""Cases of the ``softmax_backward`` assignment: the softmax, its Jacobian, the gradients of the
softmax cross-entropy, the output layer of a classifier and a numerical gradient.

======================================  ==============================  =======
function                                test cell                       points
======================================  ==============================  =======
softmax(z)                              test_softmax                    2
softmax_jacobian(y)                     test_softmax_jacobian           1.5
softmax_vjp(y, g)                       test_softmax_vjp                2
cross_entropy_grad(y_hat, Y)            test_cross_entropy_grad         1
softmax_ce_grad(z, Y)                   test_softmax_ce_grad            2
linear_softmax_backward(X, W, b, Y)     test_linear_softmax_backward    3.5
numerical_gradient(f, x, h=1e-5)        test_numerical_gradient         2
======================================  ==============================  =======

14 points autograded, plus four written answers graded by hand (:data:`WRITTEN`, 12 points):
the derivation of the Jacobian, of J^T g, of the softmax cross-entropy gradient, and the
explanation of a gradient-check experiment.

Shapes: batches have one example per row, ``(B, K)`` for B examples and K classes; the output
layer's weights are ``W`` of shape ``(K, D)`` (the course's ``(n_out, n_in)``). Every case draws
its sizes and values from its rng; B, K and D are always three different numbers, so every
transposed or mis-summed answer has a wrong shape or wrong values.

Feedback: each comparison recognises the typical mistakes of its function (see the ``hints``
below) and :mod:`autograder.cases.messages` wraps the message at word boundaries with the hint on
a line of its own, ``Hint: ...``. A function that *raises* because of a shape mistake (a matrix
product with a transposed factor, a sum without ``keepdims``) gets a hint there too.
"""
from __future__ import annotations

import numpy as np

from autograder.cases import testfuncs
from autograder.cases.compare import check_array, kind_of
from autograder.cases.helpers import as_float64, distinct_sizes, one_hot_labels
from autograder.cases.messages import WIDTH, HintedCase, explain_error, wrap  # noqa: F401
from autograder.cases.spec import AssignmentSpec, CallableArg
from course import activations, gradcheck, losses

NAME = "softmax_backward"

NONFINITE_SOFTMAX = ("output contains NaN/inf for logits of 1000: subtract the max of each row "
                     "before exp (the softmax does not change when a constant is subtracted "
                     "from a row)")
NONFINITE_CHAINED = ("output contains NaN/inf for logits of 1000: subtract the max of each row "
                     "before exp, and never divide by a probability (-Y / y_hat is infinite "
                     "when y_hat underflows to 0): use the simplified form you derived")
WRITTEN = {"written_softmax_jacobian": 4.0, "written_softmax_vjp": 2.0,
           "written_softmax_ce": 3.0, "written_gradcheck": 3.0}
"""The written answers (markdown cells, graded by hand in Formgrader): ``{grade_id: points}``."""


def _shape_hint(actual, expected_shape: tuple, name: str, table: dict) -> tuple[bool, str] | None:
    """A failure when ``actual`` is an ndarray whose shape is a key of ``table`` (wrong shape ->
    hint); None otherwise, so that the ordinary comparison runs."""
    if type(actual) is np.ndarray and tuple(actual.shape) != tuple(expected_shape):
        hint = table.get(tuple(actual.shape))
        if hint:
            return False, (f"{name} has shape {tuple(actual.shape)}, expected "
                           f"{tuple(expected_shape)}: {hint}")
    return None


# --------------------------------------------------------------------------- softmax
def _logits(fixed=None, extreme=False):
    def make(rng):
        B, K = fixed or distinct_sizes(rng, 2, 2, 10)
        z = rng.standard_normal((B, K)) * 2.0
        if extreme:
            z[0, :] += 1000.0
            z[-1, :] -= 1000.0
            z[1 % B, int(rng.integers(0, K))] = 1000.0
        return {"z": z}
    return make


def _ref_softmax(z):
    return as_float64(activations.softmax(z))


def _cmp_softmax(actual, expected, inputs):
    z = inputs["z"]

    def per_column():
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    return check_array(actual, expected, name="softmax(z)", batch_size=z.shape[0],
                       nonfinite_hint=NONFINITE_SOFTMAX, hints=[
        (per_column, "normalise each ROW (one example per row): sum over axis=1, the classes"),
        (lambda: np.exp(z - z.max()) / np.exp(z - z.max()).sum(axis=0, keepdims=True),
         "normalise each ROW (one example per row): sum over axis=1, the classes"),
        (lambda: np.exp(z - z.max()) / np.exp(z - z.max()).sum(),
         "normalise each row separately, not the whole batch at once"),
    ])


# --------------------------------------------------------------------------- Jacobian
def _probs(fixed=None):
    def make(rng):
        K = fixed or distinct_sizes(rng, 1, 3, 10)[0]
        return {"y": as_float64(activations.softmax(rng.standard_normal(K) * 1.5))}
    return make


def _ref_jacobian(y):
    return as_float64(activations.softmax_jacobian(y))


def _cmp_jacobian(actual, expected, inputs):
    y = inputs["y"]
    K = y.shape[0]
    early = _shape_hint(actual, expected.shape, "J", {
        (K,): "the Jacobian of K outputs with respect to K inputs is a K x K matrix: "
              "row i holds the derivatives of y_i, column j those with respect to z_j",
        (): "y @ y (or np.dot(y, y)) is one number, the sum of y_k^2; you need the matrix "
            "of all products y_i y_j",
        (1, 1): "that product has shape (1, 1); you need the K x K matrix of all products "
                "y_i y_j (an outer product: a column times a row)",
    })
    if early:
        return early
    return check_array(actual, expected, name="J", hints=[
        (lambda: -np.outer(y, y),
         "the diagonal needs the extra y_i: redo the case i = j of your derivation"),
        (lambda: np.diag(y * (1 - y)), "off-diagonal entries are -y_i y_j, not 0"),
        (lambda: np.diag(y) - np.dot(y, y),
         "y @ y is the number sum_k y_k^2, which broadcasting subtracted everywhere; "
         "you need the matrix of all products y_i y_j"),
        (lambda: np.diag(y) - (y * y)[:, None],
         "an off-diagonal entry J[i, j] depends on both y_i and y_j"),
        (lambda: np.diag(y) + np.outer(y, y),
         "sign: the off-diagonal entries are negative (raising z_j lowers every other y_i)"),
    ])


# --------------------------------------------------------------------------- J^T g
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
        (lambda: y * (g - np.sum(g * y)),
         "sum g * y per example (axis=1, keepdims=True), not over the batch"),
        (lambda: y * (g - np.sum(g * y, axis=0, keepdims=True)),
         "sum g * y per example (axis=1, keepdims=True), not over the batch"),
        (lambda: y * g, "missing the - sum_k g_k y_k term of J^T g"),
        (lambda: g - np.sum(g * y, axis=1, keepdims=True),
         "every entry j of J^T g carries the factor y_j (look at your column j of J)"),
        (lambda: -expected, "sign: you return minus J^T g"),
    ])


# --------------------------------------------------------------------------- loss gradients
def _ce_inputs(fixed=None):
    def make(rng):
        B, K = fixed or distinct_sizes(rng, 2, 2, 10)
        y_hat = as_float64(activations.softmax(rng.standard_normal((B, K))))
        return {"y_hat": y_hat, "Y": one_hot_labels(rng, B, K)}
    return make


def _ref_ce_grad(y_hat, Y):
    return as_float64(losses.cross_entropy(y_hat, Y)[1])


def _cmp_ce_grad(actual, expected, inputs):
    y_hat, Y = inputs["y_hat"], inputs["Y"]
    B, K = y_hat.shape
    return check_array(actual, expected, name="dL/dy_hat", batch_size=B, hints=[
        (lambda: expected * B, "the loss is the MEAN over the batch: divide by B"),
        (lambda: expected * B / K,
         "divide by the batch size B (y_hat.shape[0]), not by the number of classes K"),
        (lambda: -expected, "sign: dL/dy_hat = -(your answer): check the sign of d(-log u)/du"),
        (lambda: -1.0 / y_hat / B,
         "only the true class's term of the loss depends on y_hat[b, k]: multiply by Y"),
        (lambda: (y_hat - Y) / B,
         "that is the gradient with respect to the logits z; here it is with respect to y_hat"),
        (lambda: -Y * np.log(y_hat) / B, "that is the loss of each entry, not its derivative"),
    ])


def _sce_inputs(fixed=None, extreme=False):
    def make(rng):
        z = _logits(fixed, extreme)(rng)["z"]
        return {"z": z, "Y": one_hot_labels(rng, z.shape[0], z.shape[1])}
    return make


def _ref_sce_grad(z, Y):
    return as_float64(losses.softmax_cross_entropy(z, Y)[1])


def _cmp_sce_grad(actual, expected, inputs):
    z, Y = inputs["z"], inputs["Y"]
    B, K = z.shape
    probs = as_float64(activations.softmax(z))

    def per_column():
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return (e / e.sum(axis=0, keepdims=True) - Y) / B

    return check_array(actual, expected, name="dL/dz", batch_size=B,
                       nonfinite_hint=NONFINITE_CHAINED, hints=[
        (lambda: expected * B, "the loss is the MEAN over the batch: divide by B"),
        (lambda: expected * B / K,
         "divide by the batch size B (z.shape[0]), not by the number of classes K"),
        (lambda: -expected, "sign: dL/dz = -(your answer): which of y_hat and Y comes first?"),
        (lambda: (z - Y) / B, "subtract Y from the probabilities softmax(z), not from the logits z"),
        (per_column, "the softmax normalises each ROW (one example per row), over axis=1"),
        (lambda: probs / B, "the target Y is missing: each example's true class contributes -1"),
    ])


# --------------------------------------------------------------------------- output layer
def _layer_inputs(fixed=None):
    def make(rng):
        B, K, D = fixed or distinct_sizes(rng, 3, 2, 10)
        return {"X": rng.standard_normal((B, D)), "W": rng.standard_normal((K, D)) * 0.5,
                "b": rng.standard_normal(K) * 0.1, "Y": one_hot_labels(rng, B, K)}
    return make


def _layer_dz(X, W, b, Y):
    """(B, K) gradient of the mean softmax cross-entropy with respect to z = X W^T + b."""
    return as_float64(losses.softmax_cross_entropy(X @ W.T + b, Y)[1])


def _ref_layer(X, W, b, Y):
    dZ = _layer_dz(X, W, b, Y)
    return {"dW": dZ.T @ X, "db": dZ.sum(axis=0), "dX": dZ @ W}


def _cmp_layer(actual, expected, inputs):
    X, W, b, Y = inputs["X"], inputs["W"], inputs["b"], inputs["Y"]
    B, D = X.shape
    K = W.shape[0]
    shape_tables = {
        "db": {(B,): "db has one entry per class: sum dZ over the examples (axis 0), not "
                     "over the classes"},
        "dW": dict.fromkeys([(B, B), (D, D), (K, K), (B, D), (B, K)],
                            "dW has the shape of W, (K, D): which two arrays does the product "
                            "combine, and which one is transposed?"),
        "dX": dict.fromkeys([(B, K), (B, B), (K, D)],
                            "dX has the shape of X, (B, D): dZ (B, K) still has to go back "
                            "through W (K, D)"),
    }
    wrong_dz = (X @ W.T + b - Y) / B  # the logits in place of the probabilities
    twice = "divided by B twice? dz already carries the 1/B"
    mean = "the loss is the MEAN over the batch: divide by B"
    key_hints = {
        "dW": [(lambda: expected["dW"] * B, mean), (lambda: expected["dW"] / B, twice),
               (lambda: -expected["dW"], "sign: you return minus the gradient"),
               (lambda: wrong_dz.T @ X,
                "dZ needs the probabilities softmax(z) where you used the logits z")],
        "db": [(lambda: expected["db"] * B, mean), (lambda: expected["db"] / B, twice),
               (lambda: -expected["db"], "sign: you return minus the gradient"),
               (lambda: wrong_dz.sum(axis=0),
                "dZ needs the probabilities softmax(z) where you used the logits z")],
        "dX": [(lambda: expected["dX"] * B, mean), (lambda: expected["dX"] / B, twice),
               (lambda: -expected["dX"], "sign: you return minus the gradient"),
               (lambda: wrong_dz @ W,
                "dZ needs the probabilities softmax(z) where you used the logits z")],
    }
    if type(actual) is not dict:
        extra = ": did you forget a return statement?" if actual is None else ""
        return False, ("grads should be a dict {'dW': ..., 'db': ..., 'dX': ...}, got "
                       f"{kind_of(actual)}{extra}")
    missing = [key for key in expected if key not in actual]
    if missing:
        names = sorted(repr(k) for k in actual.keys() if type(k) is str)
        return False, (f"grads is missing the keys {missing} (it has {', '.join(names) or 'none'}): "
                       "return {'dW': ..., 'db': ..., 'dX': ...}")
    problems = []
    for key, ref in expected.items():
        name = f"grads[{key!r}]"
        result = _shape_hint(actual[key], ref.shape, name, shape_tables.get(key, {}))
        if result is None:
            result = check_array(actual[key], ref, name=name, hints=key_hints[key])
        if not result[0]:
            problems.append(result[1])
    return (not problems), "\n".join(problems)


# --------------------------------------------------------------------------- numerical gradient
def _numgrad_inputs(kind):
    def make(rng):
        if kind == "weighted_square":
            B, K = distinct_sizes(rng, 2, 2, 7)
            shape = (B, K)
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
    """The library's contract is f() without arguments, reading x in place; the student's
    function receives f(x), so the reference closes over a copy of x."""
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
         "that is a one-sided difference; step to both sides of x_i, by +h and by -h"),
        (lambda: expected * 2.0, "divide by 2 h, not h"),
    ])


# --------------------------------------------------------------------------- the cases
def _case(name, function, make, ref, cmp, points, hidden=False):
    return HintedCase(name=name, function=function, make_inputs=make, reference=ref,
                      compare=cmp, points=points, grade_id=f"test_{function}", hidden=hidden)


CASES = (
    _case("softmax on a (6, 4) batch", "softmax", _logits((6, 4)), _ref_softmax, _cmp_softmax, 0.5),
    _case("softmax with logits of +-1000", "softmax", _logits((5, 3), True), _ref_softmax,
          _cmp_softmax, 0.5),
    _case("softmax, random sizes and large logits", "softmax", _logits(None, True), _ref_softmax,
          _cmp_softmax, 1.0, True),
    _case("softmax_jacobian, K=5", "softmax_jacobian", _probs(5), _ref_jacobian, _cmp_jacobian, 0.5),
    _case("softmax_jacobian, random K", "softmax_jacobian", _probs(), _ref_jacobian, _cmp_jacobian,
          1.0, True),
    _case("softmax_vjp, B=6, K=4", "softmax_vjp", _vjp_inputs((6, 4)), _ref_vjp, _cmp_vjp, 1.0),
    _case("softmax_vjp, random sizes", "softmax_vjp", _vjp_inputs(), _ref_vjp, _cmp_vjp, 1.0, True),
    _case("cross_entropy_grad, B=6, K=4", "cross_entropy_grad", _ce_inputs((6, 4)), _ref_ce_grad,
          _cmp_ce_grad, 0.5),
    _case("cross_entropy_grad, random sizes", "cross_entropy_grad", _ce_inputs(), _ref_ce_grad,
          _cmp_ce_grad, 0.5, True),
    _case("softmax_ce_grad, B=6, K=4", "softmax_ce_grad", _sce_inputs((6, 4)), _ref_sce_grad,
          _cmp_sce_grad, 1.0),
    _case("softmax_ce_grad, random sizes and logits of +-1000", "softmax_ce_grad",
          _sce_inputs(None, True), _ref_sce_grad, _cmp_sce_grad, 1.0, True),
    _case("linear_softmax_backward, B=6, K=3, D=5", "linear_softmax_backward",
          _layer_inputs((6, 3, 5)), _ref_layer, _cmp_layer, 1.5),
    _case("linear_softmax_backward, random sizes", "linear_softmax_backward", _layer_inputs(),
          _ref_layer, _cmp_layer, 2.0, True),
    _case("numerical_gradient of sum(c x^2) + sum(d x)", "numerical_gradient",
          _numgrad_inputs("weighted_square"), _ref_numgrad, _cmp_numgrad, 1.0),
    _case("numerical_gradient of sum(sin(a x))", "numerical_gradient", _numgrad_inputs("sine_sum"),
          _ref_numgrad, _cmp_numgrad, 0.5, True),
    _case("numerical_gradient of a softmax cross-entropy", "numerical_gradient",
          _numgrad_inputs("softmax_ce"), _ref_numgrad, _cmp_numgrad, 0.5, True),
)

SPEC = AssignmentSpec(
    name=NAME,
    notebook=f"{NAME}.ipynb",
    functions=("softmax", "softmax_jacobian", "softmax_vjp", "cross_entropy_grad",
               "softmax_ce_grad", "linear_softmax_backward", "numerical_gradient"),
    cases=CASES,
    written=dict(WRITTEN),
)
