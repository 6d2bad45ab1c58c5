"""Cases of the ``forward_pass`` assignment: deck 000's "2 vs not 2" network, piece by piece.

======================================  ===============================  =======
function                                test cell                        points
======================================  ===============================  =======
relu(z)                                 test_relu                        1
relu_derivative(z)                      test_relu_derivative             1
sigmoid(z)                              test_sigmoid                     2
sigmoid_derivative(z)                   test_sigmoid_derivative          1.5
affine_forward(x, W, b)                 test_affine_forward              1.5
affine_forward_augmented(x, W_tilde)    test_affine_forward_augmented    1.5
augment_params(W, b)                    test_augment_params              1
split_augmented(W_tilde)                test_split_augmented             1
bce_loss(y_hat, y)                      test_bce_loss                    1
ce_loss(y_hat, Y)                       test_ce_loss                     1
mse_loss(y_hat, y)                      test_mse_loss                    1
network_forward(X, params)              test_network_forward             1.5
forward_cache(X, params)                test_forward_cache               2
count_parameters(N, K, J)               test_count_parameters            1
predict(y_hat, threshold=0.5)           test_predict                     1
accuracy(labels, y)                     test_accuracy                    1
======================================  ===============================  =======

20 points autograded, plus four written answers graded by hand (:data:`WRITTEN`, 10 points).

Every case draws its sizes and values from its rng; the sizes of one case are different numbers,
so a transposed answer has the wrong shape. Each comparison recognises the typical mistakes of
its function and ends its message with ``Hint: ...``; :mod:`autograder.cases.messages` lays the
message out at word boundaries and explains a NumPy shape error the function *raises* (a matrix
product with a transposed factor, a 1-D bias stacked next to a matrix).
"""
from __future__ import annotations

import numpy as np

from autograder.cases.compare import check_array, check_int, kind_of
from autograder.cases.helpers import as_float64, distinct_sizes, random_params
from autograder.cases.messages import WIDTH, HintedCase, explain_error, wrap  # noqa: F401
from autograder.cases.spec import AssignmentSpec
from course import activations, layers, losses
from course.network import MLP

NAME = "forward_pass"
EPS = float(np.finfo(np.float64).eps)
"""The clipping constant of the probability losses, as the notebook states it."""
WRITTEN = {"written_zero_one": 2.0, "written_bce_vs_mse": 3.0, "written_augmented": 2.0,
           "written_one_vs_rest": 3.0}
"""The written answers (markdown cells graded by hand in Formgrader): ``{grade_id: points}``."""

SIGMOID_NONFINITE = ("sigmoid must be finite for |z| ~ 1000: never divide inf by inf; use "
                     "exp(-|z|), e.g. np.where(z >= 0, 1 / (1 + exp(-z)), exp(z) / (1 + exp(z))) "
                     "computed on safe values")
SLOPE_ROUNDING = ("s (1 - s) loses every digit where s rounds to 1 (z above about 37): 1 - s is "
                  "then 0, while the true slope is about exp(-z). Write 1 - sigma(z) in another "
                  "way (part 1d, Hint 2)")
BIAS_FIRST = ("the bias is the FIRST column of W_tilde = [b | W] (the weight of the dummy input "
              "x0 = 1)")
SUM_OVER_OUTPUTS = "the per-example loss SUMS over the output units; only the batch is averaged"
"""The hint of a loss averaged over all B x K entries (the class report knows this wording)."""
CLIP_HINT = ("clip y_hat before the log, as stated in part 3, with eps = np.finfo(np.float64).eps "
             "(log(0) is -inf, and 0 * log(0) is NaN)")


# --------------------------------------------------------------------------- numbers
_FLOAT_TYPES = (float, np.float64)


def check_number(actual, expected: float, *, name: str, hints=(), nonfinite_hint: str = "",
                 rtol: float = 1e-6, atol: float = 1e-10) -> tuple[bool, str]:
    """Judge an untrusted scalar (Python ``float`` or ``np.float64``) against ``expected``.

    ``hints`` are ``(make_candidate, message)`` pairs: ``make_candidate()`` is a typical wrong
    value; when the answer equals it (same tolerance) the message ends with ``Hint: message``.
    """
    if type(actual) is np.ndarray:
        what = f"ndarray of shape {actual.shape}"
        extra = (": did you forget to average over the examples?" if actual.ndim >= 1
                 else ": convert it with float(...)")
        return False, f"{name} should be one number (a float), got {what}{extra}"
    if type(actual) not in _FLOAT_TYPES:
        extra = ": did you forget a return statement?" if actual is None else ""
        if type(actual) in (int, np.int64, np.float32):
            extra = ": convert it with float(...)"
        return False, f"{name} should be a float, got {kind_of(actual)}{extra}"
    value = float(actual)
    if not np.isfinite(value):
        return False, (f"{name} is {value}, expected a finite number"
                       + (f": {nonfinite_hint}" if nonfinite_hint else ""))
    if abs(value - expected) <= atol + rtol * abs(expected):
        return True, ""
    msg = f"{name} is {value:.10g}, expected {expected:.10g}"
    for make_candidate, hint in hints:
        try:
            candidate = float(make_candidate())
        except Exception:  # a hint that does not apply to these inputs
            continue
        if np.isfinite(candidate) and abs(value - candidate) <= atol + rtol * abs(candidate):
            return False, f"{msg}. Hint: {hint}"
    return False, msg


# --------------------------------------------------------------------------- activations
def _z(shape, scale=3.0):
    def make(rng):
        z = rng.standard_normal(shape) * scale
        z.flat[:: max(1, z.size // 4)] = 0.0  # exact zeros, where ReLU has its kink
        return {"z": z}
    return make


def _z_large(shape):
    """Entries spread over -60..60, and at least a quarter of them above 40, where sigma(z)
    rounds to 1: whatever the seed, a slope written as s (1 - s) is wrong there."""
    def make(rng):
        z = rng.uniform(-60.0, 60.0, size=shape)
        flat = z.reshape(-1)
        chosen = rng.choice(flat.size, size=max(1, flat.size // 4), replace=False)
        flat[chosen] = rng.uniform(40.0, 700.0, size=chosen.size)
        return {"z": z}
    return make


def _z_extreme(rng):
    """Random logits with entries of about +-1000, +-745, +-40 and +-30 among them."""
    z = rng.standard_normal((3, 4)) * 3.0
    big = np.array([1000.0, 745.0, 40.0, 30.0]) * rng.choice([-1.0, 1.0], size=4)
    z[0, :] = big
    z[1, :] = -big
    return {"z": z}


def _ref_relu(z):
    return as_float64(activations.relu(z))


def _cmp_relu(actual, expected, inputs):
    z = inputs["z"]
    return check_array(actual, expected, name="relu(z)", hints=[
        (lambda: np.abs(z), "relu(z) = max(z, 0) keeps 0 for negative z (not |z|)"),
        (lambda: (z > 0).astype(float), "that is the derivative; relu returns max(z, 0)"),
    ])


def _ref_relu_derivative(z):
    return as_float64(activations.relu_derivative(z, subgradient_at_zero=0.0))


def _cmp_relu_derivative(actual, expected, inputs):
    z = inputs["z"]
    return check_array(actual, expected, name="relu'(z)", hints=[
        (lambda: (z >= 0).astype(float),
         "at exactly z = 0 this assignment uses the subgradient 0 (1 only where z > 0)"),
        (lambda: np.where(z == 0, 0.5, (z > 0).astype(float)),
         "at exactly z = 0 this assignment uses the subgradient 0, not 0.5"),
        (lambda: np.maximum(z, 0.0), "that is relu itself; its derivative is 1 or 0"),
        (lambda: (z < 0).astype(float), "the slope is 1 where z > 0 and 0 where z < 0"),
    ])


def _ref_sigmoid(z):
    return as_float64(activations.sigmoid(z))


def _cmp_sigmoid(actual, expected, inputs):
    z = inputs["z"]
    return check_array(actual, expected, name="sigmoid(z)", nonfinite_hint=SIGMOID_NONFINITE,
                       hints=[(lambda: 1.0 / (1.0 + np.exp(np.clip(z, -700, 700))),
                               "sign: sigmoid(z) = 1 / (1 + exp(-z))")])


def _ref_sigmoid_derivative(z):
    return as_float64(activations.sigmoid_derivative(z))


def _naive_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))


def _cmp_sigmoid_derivative(actual, expected, inputs):
    z = inputs["z"]
    s = as_float64(activations.sigmoid(z))
    return check_array(actual, expected, name="sigmoid'(z)", rtol=1e-6, atol=1e-300,
                       nonfinite_hint="never take exp of a large positive number: build it from "
                                      "your stable sigmoid", hints=[
        (lambda: s * (1.0 - s), SLOPE_ROUNDING),
        (lambda: _naive_sigmoid(z) * (1.0 - _naive_sigmoid(z)), SLOPE_ROUNDING),
        (lambda: s, "that is sigma(z) itself, not its slope"),
        (lambda: 1.0 - s, "that is 1 - sigma(z) alone: check your derivation against Hint 1"),
        (lambda: -s * (1.0 - s), "sign: the sigmoid is increasing, its slope is positive"),
    ])


# --------------------------------------------------------------------------- affine layers
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
        return {"x": rng.standard_normal((B, n_in)),
                "W_tilde": rng.standard_normal((n_out, n_in + 1))}
    return make


def _ref_augmented(x, W_tilde):
    return as_float64(layers.augmented_linear_forward(x, W_tilde)[0])


def _cmp_augmented(actual, expected, inputs):
    x, Wt = inputs["x"], inputs["W_tilde"]
    return check_array(actual, expected, name="z", batch_size=x.shape[0], hints=[
        (lambda: x @ Wt[:, :-1].T + Wt[:, -1], BIAS_FIRST),
        (lambda: x @ Wt[:, 1:].T, "did you forget the dummy input x0 = 1 (the bias column)?"),
    ])


def _params_inputs(fixed=None):
    def make(rng):
        n_in, n_out = fixed or distinct_sizes(rng, 2, 2, 12)
        return {"W": rng.standard_normal((n_out, n_in)), "b": rng.standard_normal(n_out)}
    return make


def _ref_augment(W, b):
    return np.hstack([b[:, None], W]).astype(np.float64)


def _cmp_augment(actual, expected, inputs):
    W, b = inputs["W"], inputs["b"]
    n_out, n_in = W.shape
    if type(actual) is np.ndarray and actual.shape == (n_out + 1, n_in):
        return False, (f"W_tilde has shape {actual.shape}, expected {expected.shape}: W_tilde has "
                       "one more COLUMN than W (one weight per unit for the dummy input x0 = 1), "
                       "not one more row")
    return check_array(actual, expected, name="W_tilde", hints=[
        (lambda: np.hstack([W, b[:, None]]), BIAS_FIRST),
    ])


def _split_inputs(fixed=None):
    def make(rng):
        n_in, n_out = fixed or distinct_sizes(rng, 2, 2, 12)
        if n_out == n_in + 1:  # keep W_tilde non-square, so that a transpose shows
            n_out += 1
        return {"W_tilde": rng.standard_normal((n_out, n_in + 1))}
    return make


def _ref_split(W_tilde):
    return (W_tilde[:, 1:].astype(np.float64), W_tilde[:, 0].astype(np.float64))


def _cmp_split(actual, expected, inputs):
    Wt = inputs["W_tilde"]
    W_ref, b_ref = expected
    if type(actual) not in (tuple, list) or len(actual) != 2:
        extra = ": did you forget a return statement?" if actual is None else ""
        return False, f"split_augmented should return a pair (W, b), got {kind_of(actual)}{extra}"
    W, b = actual
    if (type(W) is np.ndarray and type(b) is np.ndarray and W.ndim == 1 and b.ndim == 2):
        return False, "split_augmented returned (b, W): return the pair in the order (W, b)"
    ok_w, msg_w = check_array(W, W_ref, name="W", hints=[(lambda: Wt[:, :-1], BIAS_FIRST)])
    ok_b, msg_b = check_array(b, b_ref, name="b", hints=[(lambda: Wt[:, -1], BIAS_FIRST)])
    problems = [m for m in (msg_w, msg_b) if m]
    return ok_w and ok_b, "\n".join(problems)


# --------------------------------------------------------------------------- losses
def _binary_inputs(fixed=None, saturated=False):
    def make(rng):
        B = fixed or int(rng.integers(5, 13))
        y = rng.integers(0, 2, size=B).astype(np.float64)
        y[:2] = [0.0, 1.0]
        y_hat = rng.uniform(0.02, 0.98, size=B)
        if saturated:  # confident and wrong: a probability of exactly 0 or 1
            y_hat[0], y_hat[1] = 1.0, 0.0
            y_hat[2] = float(y[2])  # confident and right
        return {"y_hat": y_hat, "y": y}
    return make


def _ref_bce(y_hat, y):
    return losses.binary_cross_entropy(y_hat, y)[0]


def _bce_clipped_at(y_hat, y, eps):
    """The BCE with y_hat clipped to [eps, 1 - eps] (another eps: a typical mistake)."""
    p = np.clip(y_hat, eps, 1 - eps)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def _cmp_bce(actual, expected, inputs):
    y_hat, y = inputs["y_hat"], inputs["y"]
    B = y_hat.shape[0]
    p = np.clip(y_hat, EPS, 1 - EPS)
    return check_number(actual, expected, name="bce_loss", nonfinite_hint=CLIP_HINT, hints=[
        (lambda: expected * B, "the loss is the MEAN over the batch: divide by B"),
        (lambda: -expected,
         "sign: -log p is positive; the loss is -(y log p + (1 - y) log(1 - p))"),
        (lambda: -np.mean(y * np.log(p)),
         "missing the (1 - y) log(1 - y_hat) term: examples with y = 0 count too"),
        *((lambda eps=eps: _bce_clipped_at(y_hat, y, eps),
           "clip with eps = np.finfo(np.float64).eps (about 2.2e-16), as stated")
          for eps in (1e-15, 1e-12)),
    ])


def _class_inputs(fixed=None, saturated=False):
    def make(rng):
        B, K = fixed or distinct_sizes(rng, 2, 2, 10)
        y_hat = as_float64(activations.softmax(rng.standard_normal((B, K)) * 1.5))
        labels = rng.integers(0, K, size=B)
        Y = np.zeros((B, K))
        Y[np.arange(B), labels] = 1.0
        if saturated:  # the true class of example 0 gets probability exactly 0
            y_hat[0] = 0.0
            y_hat[0, (labels[0] + 1) % K] = 1.0
        return {"y_hat": y_hat, "Y": Y}
    return make


def _ref_ce(y_hat, Y):
    return losses.cross_entropy(y_hat, Y)[0]


def _cmp_ce(actual, expected, inputs):
    y_hat, Y = inputs["y_hat"], inputs["Y"]
    B, K = y_hat.shape
    return check_number(actual, expected, name="ce_loss", nonfinite_hint=CLIP_HINT, hints=[
        (lambda: expected * B, "the loss is the MEAN over the batch: divide by B"),
        (lambda: expected / K, SUM_OVER_OUTPUTS),
        (lambda: -expected, "sign: -log p is positive; the loss is -sum_k Y_k log y_hat_k"),
        (lambda: -np.mean(np.sum(np.log(np.clip(y_hat, EPS, 1.0)), axis=1)),
         "only the true class counts: multiply log y_hat by the one-hot Y before summing"),
    ])


def _mse_inputs(fixed=None, two_d=False):
    def make(rng):
        if two_d:
            B, K = fixed or distinct_sizes(rng, 2, 2, 10)
            shape = (B, K)
        else:
            shape = (fixed or int(rng.integers(5, 13)),)
        return {"y_hat": rng.uniform(0.0, 1.0, shape), "y": rng.standard_normal(shape)}
    return make


def _ref_mse(y_hat, y):
    return losses.mse(y_hat, y)[0]


def _cmp_mse(actual, expected, inputs):
    y_hat, y = inputs["y_hat"], inputs["y"]
    B = y_hat.shape[0]
    outputs = y_hat.size // B
    hints = [
        (lambda: expected * B, "the loss is the MEAN over the batch: divide by B"),
        (lambda: expected / 2, "no factor 1/2 here: L = (1/B) sum_b ||y_hat_b - y_b||^2"),
        (lambda: np.sqrt(expected), "no square root: that is the RMS error, not the MSE"),
    ]
    if outputs > 1:
        hints.insert(0, (lambda: expected / outputs, SUM_OVER_OUTPUTS))
    return check_number(actual, expected, name="mse_loss", hints=hints)


# --------------------------------------------------------------------------- the network
def _network_inputs(fixed=None):
    def make(rng):
        B, N, K, J = fixed or distinct_sizes(rng, 4, 2, 14)
        return {"X": rng.standard_normal((B, N)), "params": random_params(rng, [N, K, J, 1])}
    return make


def _forward(X, params) -> dict:
    """The reference forward pass with every intermediate (z3 and y_hat of shape (B,))."""
    z1 = as_float64(layers.linear_forward(X, params["W1"], params["b1"])[0])
    a1 = as_float64(activations.relu(z1))
    z2 = as_float64(layers.linear_forward(a1, params["W2"], params["b2"])[0])
    a2 = as_float64(activations.relu(z2))
    z3 = as_float64(layers.linear_forward(a2, params["W3"], params["b3"])[0])[:, 0]
    return {"z1": z1, "a1": a1, "z2": z2, "a2": a2, "z3": z3,
            "y_hat": as_float64(activations.sigmoid(z3))}


def _ref_network(X, params):
    return _forward(X, params)["y_hat"]


def _cmp_network(actual, expected, inputs):
    X, params = inputs["X"], inputs["params"]
    z3 = _forward(X, params)["z3"]
    return check_array(actual, expected, name="y_hat", batch_size=X.shape[0], hints=[
        (lambda: z3, "did you forget the sigmoid on the output layer?"),
        (lambda: np.maximum(z3, 0.0), "the output layer uses a sigmoid, not ReLU"),
    ])


CACHE_KEYS = ("z1", "a1", "z2", "a2", "z3", "y_hat")


def _cmp_cache(actual, expected, inputs):
    X = inputs["X"]
    B = X.shape[0]
    if type(actual) is not dict:
        extra = ": did you forget a return statement?" if actual is None else ""
        return False, ("forward_cache should return a dict with the keys "
                       f"{', '.join(CACHE_KEYS)}; got {kind_of(actual)}{extra}")
    keys = [k for k in actual.keys() if type(k) is str]
    missing = [k for k in CACHE_KEYS if k not in keys]
    if missing:
        return False, (f"the dict is missing the keys {missing} (it has {sorted(keys)}): return "
                       f"every one of {', '.join(CACHE_KEYS)}")
    key_hints = {
        "a1": [(lambda: expected["z1"], "a1 = relu(z1): did you forget the activation?")],
        "a2": [(lambda: expected["z2"], "a2 = relu(z2): did you forget the activation?")],
        "z2": [(lambda: expected["z1"] @ inputs["params"]["W2"].T + inputs["params"]["b2"],
                "z2 is computed from a1 = relu(z1), not from z1")],
        "z3": [(lambda: expected["y_hat"], "z3 is the pre-activation, before the sigmoid")],
        "y_hat": [(lambda: expected["z3"], "did you forget the sigmoid on the output layer?"),
                  (lambda: np.maximum(expected["z3"], 0.0),
                   "the output layer uses a sigmoid, not ReLU")],
    }
    problems = []
    for key in CACHE_KEYS:
        ok, msg = check_array(actual[key], expected[key], name=f"cache[{key!r}]", batch_size=B,
                              hints=key_hints.get(key, ()))
        if not ok:
            problems.append(msg)
    return (not problems), "\n".join(problems)


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
        msg += ". Hint: did you forget the biases (weights of the dummy inputs)?"
    elif not ok and type(actual) is int and actual == N * K + K * J + J + K + J:
        msg += ". Hint: the output neuron has a bias too"
    return ok, msg


def _predict_inputs(threshold=None):
    def make(rng):
        y_hat = rng.uniform(0.0, 1.0, size=int(rng.integers(6, 15)))
        if threshold is None:  # away from 0.5, with one y_hat between the two
            t = float(rng.choice([rng.uniform(0.2, 0.45), rng.uniform(0.55, 0.8)]))
            y_hat[2] = (t + 0.5) / 2
        else:
            t = threshold
        y_hat[:2] = t  # exactly at the threshold: counts as class 1
        return {"y_hat": y_hat, "threshold": t}
    return make


def _ref_predict(y_hat, threshold):
    return np.where(y_hat >= threshold, 1, 0).astype(np.int64)


def _cmp_predict(actual, expected, inputs):
    y_hat, t = inputs["y_hat"], inputs["threshold"]
    ok, msg = check_array(actual, expected, name="labels", batch_size=y_hat.shape[0])
    if ok or type(actual) is not np.ndarray or actual.shape != expected.shape:
        return ok, msg
    # check_array gives integer answers no value hints: the typical ones are tried here
    if np.array_equal(actual, (y_hat > t).astype(np.int64)):
        return False, f"{msg}. Hint: y_hat exactly at the threshold counts as class 1 (>=, not >)"
    if t != 0.5 and np.array_equal(actual, (y_hat >= 0.5).astype(np.int64)):
        return False, f"{msg}. Hint: use the threshold argument, not 0.5"
    return False, msg


def _accuracy_inputs(rng):
    B = int(rng.integers(8, 40))
    y = rng.integers(0, 2, size=B).astype(np.float64)
    labels = y.astype(np.int64)
    wrong = rng.choice(B, size=int(rng.integers(1, B // 2)), replace=False)
    labels[wrong] = 1 - labels[wrong]
    return {"labels": labels, "y": y}


def _ref_accuracy(labels, y):
    return float(np.mean(labels == y))


def _cmp_accuracy(actual, expected, inputs):
    B = inputs["y"].shape[0]
    if type(actual) in (int, np.int64) and int(actual) == round(expected * B):
        return False, (f"accuracy is {int(actual)}, expected {expected:.10g}. Hint: that is "
                       "the number of correct labels; the accuracy is the FRACTION correct, "
                       "divide by B")
    return check_number(actual, expected, name="accuracy", hints=[
        (lambda: 1.0 - expected, "that is the error rate: the accuracy is the fraction CORRECT"),
        (lambda: 100.0 * expected, "return a fraction in [0, 1], not a percentage"),
        (lambda: expected * B, "that is the number correct: divide by B"),
    ])


# --------------------------------------------------------------------------- the cases
def _case(name, function, make, ref, cmp, points, hidden=False):
    return HintedCase(name=name, function=function, make_inputs=make, reference=ref,
                      compare=cmp, points=points, grade_id=f"test_{function}", hidden=hidden)


CASES = (
    _case("relu on a (7, 5) batch", "relu", _z((7, 5)), _ref_relu, _cmp_relu, 0.5),
    _case("relu on a (3, 4, 2) array", "relu", _z((3, 4, 2)), _ref_relu, _cmp_relu, 0.5, True),
    _case("relu_derivative on a (6, 5) batch", "relu_derivative", _z((6, 5)),
          _ref_relu_derivative, _cmp_relu_derivative, 0.5),
    _case("relu_derivative on a (2, 5, 3) array", "relu_derivative", _z((2, 5, 3)),
          _ref_relu_derivative, _cmp_relu_derivative, 0.5, True),
    _case("sigmoid on a (6, 4) batch", "sigmoid", _z((6, 4)), _ref_sigmoid, _cmp_sigmoid, 0.5),
    _case("sigmoid at z = +-1000", "sigmoid", _z_extreme, _ref_sigmoid, _cmp_sigmoid, 0.5),
    _case("sigmoid on a (2, 3, 5) array", "sigmoid", _z((2, 3, 5), 20.0), _ref_sigmoid,
          _cmp_sigmoid, 1.0, True),
    _case("sigmoid_derivative on a (5, 4) batch", "sigmoid_derivative", _z((5, 4)),
          _ref_sigmoid_derivative, _cmp_sigmoid_derivative, 0.5),
    _case("sigmoid_derivative at z = +-30, +-40, +-745, +-1000", "sigmoid_derivative",
          _z_extreme, _ref_sigmoid_derivative, _cmp_sigmoid_derivative, 0.5),
    _case("sigmoid_derivative on a (2, 3, 5) array of large z", "sigmoid_derivative",
          _z_large((2, 3, 5)), _ref_sigmoid_derivative, _cmp_sigmoid_derivative, 0.5, True),
    _case("affine_forward, B=7, n_in=5, n_out=3", "affine_forward", _affine_inputs((7, 5, 3)),
          _ref_affine, _cmp_affine, 0.5),
    _case("affine_forward, random sizes", "affine_forward", _affine_inputs(), _ref_affine,
          _cmp_affine, 1.0, True),
    _case("affine_forward_augmented, B=7, n_in=5, n_out=3", "affine_forward_augmented",
          _augmented_inputs((7, 5, 3)), _ref_augmented, _cmp_augmented, 0.5),
    _case("affine_forward_augmented, random sizes", "affine_forward_augmented",
          _augmented_inputs(), _ref_augmented, _cmp_augmented, 1.0, True),
    _case("augment_params, n_in=5, n_out=3", "augment_params", _params_inputs((5, 3)),
          _ref_augment, _cmp_augment, 0.5),
    _case("augment_params, random sizes", "augment_params", _params_inputs(), _ref_augment,
          _cmp_augment, 0.5, True),
    _case("split_augmented, n_in=5, n_out=3", "split_augmented", _split_inputs((5, 3)),
          _ref_split, _cmp_split, 0.5),
    _case("split_augmented, random sizes", "split_augmented", _split_inputs(), _ref_split,
          _cmp_split, 0.5, True),
    _case("bce_loss, B=8", "bce_loss", _binary_inputs(8), _ref_bce, _cmp_bce, 0.5),
    _case("bce_loss with y_hat exactly 0 and 1", "bce_loss", _binary_inputs(None, True),
          _ref_bce, _cmp_bce, 0.5, True),
    _case("ce_loss, B=6, K=4", "ce_loss", _class_inputs((6, 4)), _ref_ce, _cmp_ce, 0.5),
    _case("ce_loss with a true class at probability 0", "ce_loss", _class_inputs(None, True),
          _ref_ce, _cmp_ce, 0.5, True),
    _case("mse_loss, y of shape (9,)", "mse_loss", _mse_inputs(9), _ref_mse, _cmp_mse, 0.5),
    _case("mse_loss, y of shape (B, K)", "mse_loss", _mse_inputs(None, True), _ref_mse, _cmp_mse,
          0.5, True),
    _case("network_forward, B=7, N=6, K=5, J=4", "network_forward", _network_inputs((7, 6, 5, 4)),
          _ref_network, _cmp_network, 0.5),
    _case("network_forward, random sizes", "network_forward", _network_inputs(), _ref_network,
          _cmp_network, 0.5, True),
    _case("network_forward, random sizes (2)", "network_forward", _network_inputs(), _ref_network,
          _cmp_network, 0.5, True),
    _case("forward_cache, B=7, N=6, K=5, J=4", "forward_cache", _network_inputs((7, 6, 5, 4)),
          _forward, _cmp_cache, 1.0),
    _case("forward_cache, random sizes", "forward_cache", _network_inputs(), _forward,
          _cmp_cache, 1.0, True),
    _case("count_parameters, random N, K, J", "count_parameters", _count_inputs(), _ref_count,
          _cmp_count, 0.5),
    _case("count_parameters, random sizes", "count_parameters", _count_inputs(), _ref_count,
          _cmp_count, 0.5, True),
    _case("predict at threshold 0.5", "predict", _predict_inputs(0.5), _ref_predict,
          _cmp_predict, 0.5),
    _case("predict at a random threshold", "predict", _predict_inputs(), _ref_predict,
          _cmp_predict, 0.5, True),
    _case("accuracy of random labels", "accuracy", _accuracy_inputs, _ref_accuracy,
          _cmp_accuracy, 0.5),
    _case("accuracy of random labels (2)", "accuracy", _accuracy_inputs, _ref_accuracy,
          _cmp_accuracy, 0.5, True),
)

SPEC = AssignmentSpec(
    name=NAME,
    notebook=f"{NAME}.ipynb",
    functions=("relu", "relu_derivative", "sigmoid", "sigmoid_derivative", "affine_forward",
               "affine_forward_augmented", "augment_params", "split_augmented", "bce_loss",
               "ce_loss", "mse_loss", "network_forward", "forward_cache", "count_parameters",
               "predict", "accuracy"),
    cases=CASES,
    written=dict(WRITTEN),
)
