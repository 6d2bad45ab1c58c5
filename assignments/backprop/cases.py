"""Cases of the ``backprop`` assignment: backpropagation through a general L-layer network.

The network has L layers; layer l computes z^[l] = W^[l] a^[l-1] + b^[l] with ``W{l}`` of shape
(n_l, n_{l-1}) and ``b{l}`` of shape (n_l,), then a^[l] = g_l(z^[l]) for the hidden layers,
``activations[l-1]`` in ("relu", "sigmoid", "tanh"). The output layer and the loss go together
(``loss``):

==============  ===============================  ==========================================
loss            output y_hat = ...(z^[L])        per-example loss
==============  ===============================  ==========================================
"softmax_ce"    softmax                          -sum_k y_k log y_hat_k
"sigmoid_bce"   sigmoid, elementwise             -sum_k [y_k log y_hat_k + (1-y_k) log(1-y_hat_k)]
"identity_mse"  identity                         sum_k (y_hat_k - y_k)^2
==============  ===============================  ==========================================

A batch cost is the mean of the per-example losses (as ``course.losses``). Graded functions:

==============================================  ===========================  ======
function                                        test cell                    points
==============================================  ===========================  ======
network_loss(X, Y, params, activations, loss)   test_network_loss            2
backprop_example(x, y, params, activations,     test_backprop_example        5
  loss)  (one example, column-vector layout)
backprop(X, Y, params, activations, loss)       test_backprop                4
backprop, B=2048, timed                         test_backprop_vectorized     2
numerical_grads(X, Y, params, activations,      test_numerical_grads         3
  loss, eps)
sgd_step(params, grads, lr)                     test_sgd_step                1
train_classifier(X_train, y_train,              test_train_classifier        5
  hidden_sizes, activations)
==============================================  ===========================  ======

22 points autograded, plus four written answers graded by hand (:data:`WRITTEN`, 12 points):
12 of 34 points (35 %) reward reasoning.

Per-student variant (:func:`variant_of`): the hidden widths and activations of the network a
student trains, derived from the student id alone. The graded functions take the architecture
as arguments, so they are graded on the variant of the id the student is enrolled with; the
written experiment is about that variant's network.

Training (``train_classifier``): every student trains on their own variant of the 5,000 MNIST
images of ``course.data.load_mnist_subset``, drawn from the case's (secret, per-student) rng: a
split of its own (3,750 to train, 1,250 held out), the 784 pixels in an order of its own and the
ten classes renamed. A fully-connected network learns any pixel order and any class names
equally well, so honest training is unaffected, but weights trained elsewhere score at chance.
The held-out part travels as private inputs (``_X_test``, ``_y_test``), which the student's
function never receives. Credit: full from :data:`FULL_MARKS_ACCURACY`, linear from
:data:`ZERO_CREDIT_ACCURACY`, and only if ``train_classifier`` called the student's own
``backprop`` and ``sgd_step`` (their calls are counted while it runs).

Typical mistakes are recognised by computing the gradients again with the mistake built in
(:func:`mistaken_grads`) and comparing the answer with each of these wrong answers. Every case
is a :class:`~autograder.cases.messages.HintedCase`: its messages wrap at word boundaries, and a
NumPy shape error raised inside the student's function (a transposed ``W`` in a product, a sum
that dropped its axis) gets a hint.
"""
from __future__ import annotations

import numpy as np

from course import data, layers, losses

from autograder.cases.compare import ATOL, RTOL, check_array, check_dict, kind_of
from autograder.cases.helpers import as_float64, distinct_sizes, random_params, variant_rng
from autograder.cases.messages import HintedCase
from autograder.cases.spec import AssignmentSpec

NAME = "backprop"
HIDDEN_ACTIVATIONS = ("relu", "sigmoid", "tanh")
LOSSES = ("softmax_ce", "sigmoid_bce", "identity_mse")
MAX_SLOWDOWN = 5.0
"""A ``backprop`` more than this many times slower than the vectorized baseline loses the points
(an honest vectorized one measures about 1x; a loop over the examples 8x or more in the sandbox)."""
TIMING_SIZES = (2048, 64)
"""B and the input width of the timed case (small inputs, so that a loop over the examples
shows its per-example cost; the student's own hidden layers)."""
TEST_FRACTION = 0.25
NUM_CLASSES = 10
FULL_MARKS_ACCURACY = 0.88
ZERO_CREDIT_ACCURACY = 0.70
TRAINING_CALLS = ("backprop", "sgd_step")
"""The student's functions that ``train_classifier`` must use (their calls are counted)."""
GRADCHECK_TOLERANCE = 1e-6
"""``numerical_grads`` passes when its rel_error to the reference centred differences is below this."""
WRITTEN = {"written_chain_rule_21c": 3.0, "written_outer_products": 2.0,
           "written_sigmoid_bce": 3.0, "written_experiment": 4.0}
"""Written answers (markdown solution cells), graded by hand: {grade_id: points}."""
WIDTHS = (32, 48, 64, 96, 128)


# ----------------------------------------------------------------------------- the variant
def variant_of(student_id: str) -> dict:
    """The network a student trains: ``{"hidden_sizes": [n_1, ...], "activations": [g_1, ...]}``.

    Two or three hidden layers, widths in :data:`WIDTHS` (non-increasing), activations from
    :data:`HIDDEN_ACTIVATIONS` with at most one sigmoid layer (a stack of sigmoids trains too
    slowly with plain SGD for a 2-4 hour assignment). Derived from the id alone (public).
    """
    rng = variant_rng(NAME, student_id)
    depth = int(rng.integers(2, 4))
    widths = sorted((int(w) for w in rng.choice(WIDTHS, size=depth, replace=True)), reverse=True)
    names = [str(rng.choice(HIDDEN_ACTIVATIONS)) for _ in range(depth)]
    while names.count("sigmoid") > 1:
        names[names.index("sigmoid")] = str(rng.choice(("relu", "tanh")))
    return {"hidden_sizes": widths, "activations": names}


# ----------------------------------------------------------------------------- the reference
def _check_architecture(params, activations, loss) -> int:
    """Number of layers L; raises ValueError on an inconsistent architecture (trusted inputs)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    L = len(activations) + 1
    if sorted(params) != sorted([f"W{l}" for l in range(1, L + 1)] + [f"b{l}" for l in range(1, L + 1)]):
        raise ValueError(f"params must hold W1..W{L} and b1..b{L} for {L - 1} activations, got "
                         f"{sorted(params)}")
    return L


def _forward(X, params, activations):
    """Pre-activations and activations of every layer (batch-first), with ``course.layers``."""
    L = len(activations) + 1
    a, zs, As, caches = X, [], [X], []
    for l in range(1, L + 1):
        z, _ = layers.linear_forward(a, params[f"W{l}"], params[f"b{l}"])
        zs.append(z)
        if l < L:
            a, cache = layers.activation_forward(z, activations[l - 1])
            caches.append(cache)
            As.append(a)
    return zs, As, caches


def _output_loss(z, Y, loss):
    """(mean loss, dL/dz of the last layer) of a batch of logits z (B, C) with ``course.losses``."""
    if loss == "softmax_ce":
        return losses.softmax_cross_entropy(z, Y)
    if loss == "sigmoid_bce":
        B, C = z.shape  # the per-example loss sums over the C outputs
        value, grad = losses.binary_cross_entropy_with_logits(z.ravel(), Y.ravel())
        return value * C, grad.reshape(B, C) * C
    value, grad = losses.mse(z, Y)
    return value, grad


def reference_loss(X, Y, params, activations, loss) -> float:
    """Mean loss of the batch, with ``course``."""
    _check_architecture(params, activations, loss)
    zs, _, _ = _forward(X, params, activations)
    return float(_output_loss(zs[-1], Y, loss)[0])


def reference_grads(X, Y, params, activations, loss) -> dict[str, np.ndarray]:
    """Gradients of the mean loss (eq. 23a-d in the course's layout), with ``course``."""
    L = _check_architecture(params, activations, loss)
    zs, As, caches = _forward(X, params, activations)
    dz = _output_loss(zs[-1], Y, loss)[1]
    grads = {}
    for l in range(L, 0, -1):
        da, grads[f"W{l}"], grads[f"b{l}"] = layers.affine_backward(dz, As[l - 1], params[f"W{l}"])
        if l > 1:
            dz = layers.activation_backward(da, caches[l - 2])
    return {k: as_float64(v) for k, v in grads.items()}


def logits(X, params, activations) -> np.ndarray:
    """z^[L] (B, C) of the network, with ``course``."""
    return as_float64(_forward(X, params, activations)[0][-1])


# ----------------------------------------------------------------------------- mistakes
_G = {"relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
      "sigmoid": (lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
                  lambda z: 0.25 * (1.0 - np.tanh(0.5 * z) ** 2)),
      "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2)}
MISTAKES = {
    "no_activation_derivative": "did you multiply by g'(z) of the layer (eq. 21c / 23c)?",
    "derivative_of_a": "g' is taken at the pre-activation z, not at a = g(z)",
    "output_derivative_twice": ("the output delta is already y_hat - y for softmax-CE and "
                                "sigmoid-BCE: do not multiply it by the output's derivative again"),
    "mse_without_2": "the derivative of (y_hat - y)^2 is 2 (y_hat - y)",
    "sign": "the output delta is y_hat - y, not y - y_hat",
    "no_mean": "the cost is the MEAN over the batch: divide by B",
    "mean_twice": "divided by B twice? the output delta already carries the 1/B",
}
"""Typical mistakes recognised in gradients, with the hint each one gets."""


def mistaken_grads(X, Y, params, activations, loss, mistake: str | None = None) -> dict:
    """Gradients of the mean loss in plain NumPy, with one of :data:`MISTAKES` built in
    (``None``: the right answer, which equals :func:`reference_grads`)."""
    L = len(activations) + 1
    B = X.shape[0]
    a, As, zs = X, [X], []
    for l in range(1, L + 1):
        z = a @ params[f"W{l}"].T + params[f"b{l}"]
        zs.append(z)
        if l < L:
            a = _G[activations[l - 1]][0](z)
            As.append(a)
    z = zs[-1]
    if loss == "softmax_ce":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        y_hat = e / e.sum(axis=1, keepdims=True)
    elif loss == "sigmoid_bce":
        y_hat = _G["sigmoid"][0](z)
    else:
        y_hat = z
    dz = (2.0 if loss == "identity_mse" and mistake != "mse_without_2" else 1.0) * (y_hat - Y)
    if mistake == "sign":
        dz = -dz
    if mistake == "output_derivative_twice":
        if loss == "sigmoid_bce":
            dz = dz * y_hat * (1.0 - y_hat)
        elif loss == "softmax_ce":
            dz = dz * y_hat * (1.0 - y_hat)  # the diagonal of the softmax Jacobian
    scale = {"no_mean": 1.0, "mean_twice": 1.0 / B ** 2}.get(mistake, 1.0 / B)
    dz = dz * scale
    grads = {}
    for l in range(L, 0, -1):
        grads[f"W{l}"] = dz.T @ As[l - 1]
        grads[f"b{l}"] = dz.sum(axis=0)
        if l > 1:
            da = dz @ params[f"W{l}"]
            g, dg = _G[activations[l - 2]]
            if mistake == "no_activation_derivative":
                dz = da
            elif mistake == "derivative_of_a":
                dz = da * dg(g(zs[l - 2]))
            else:
                dz = da * dg(zs[l - 2])
    return grads


def _hints(inputs: dict, per_example: bool) -> list[tuple]:
    """Hint pairs for a whole gradient dict: ``[(make_wrong_grads, message), ...]``."""
    if per_example:
        X, Y = inputs["x"][None, :], inputs["y"][None, :]
        names = [m for m in MISTAKES if m not in ("no_mean", "mean_twice")]
    else:
        X, Y = inputs["X"], inputs["Y"]
        names = list(MISTAKES)
    args = (X, Y, inputs["params"], inputs["activations"], inputs["loss"])
    return [(lambda m=m: mistaken_grads(*args, mistake=m), MISTAKES[m]) for m in names]


def _matching_hint(actual, expected: dict, hints) -> str:
    """The first hint whose wrong gradients match ``actual`` everywhere they differ from the
    right ones (so a mistake that changes nothing for these inputs is never named)."""
    if type(actual) is not dict:
        return ""
    for make, message in hints:
        wrong = make()
        told_apart, matches = False, True
        for key, ref in expected.items():
            value = actual.get(key)
            if type(value) is not np.ndarray or value.shape != ref.shape or value.dtype != np.float64:
                return ""
            if not np.allclose(wrong[key], ref, rtol=RTOL, atol=ATOL):
                told_apart = True
            if not np.allclose(value, wrong[key], rtol=RTOL, atol=ATOL):
                matches = False
                break
        if told_apart and matches:
            return message
    return ""


def _judge_grads(actual, expected, inputs, *, per_example: bool, name: str = "grads"):
    ok, message = check_dict(actual, expected, name=name,
                             batch_size=None if per_example else inputs["X"].shape[0])
    if ok:
        return True, ""
    hint = _matching_hint(actual, expected, _hints(inputs, per_example))
    if hint:
        message += f"\nHint: {hint}"
    return False, message


# ----------------------------------------------------------------------------- inputs
def _targets(rng, B: int, C: int, loss: str) -> np.ndarray:
    """Y (B, C): one-hot rows (softmax_ce), 0/1 entries (sigmoid_bce) or reals (identity_mse)."""
    if loss == "softmax_ce":
        Y = np.zeros((B, C))
        Y[np.arange(B), rng.integers(0, C, size=B)] = 1.0
        return Y
    if loss == "sigmoid_bce":
        return rng.integers(0, 2, size=(B, C)).astype(np.float64)
    return rng.standard_normal((B, C))


def _random_activations(rng, depth: int) -> list[str]:
    """``depth`` hidden activations drawn from :data:`HIDDEN_ACTIVATIONS`, at least one of them
    sigmoid or tanh: with ReLU alone, g'(z) is 1 wherever a unit is on and g'(g(z)) = g'(z), so a
    forgotten or misplaced activation derivative could go unseen, depending on the draw."""
    names = [str(rng.choice(HIDDEN_ACTIVATIONS)) for _ in range(depth)]
    if all(name == "relu" for name in names):
        names[int(rng.integers(depth))] = str(rng.choice(("sigmoid", "tanh")))
    return names


def _network_inputs(loss: str, activations=None, sizes=None, depth=None, huge=False):
    """``make_inputs`` of a batch case: X (B, n_0), Y (B, n_L), random non-square params.

    ``huge``: output biases of +-900 (alternating signs), so that the logits are in the hundreds:
    a softmax without the max shift overflows; every target is a class the network rules out
    (a loss of ~1800 per example), so log(sigmoid(z)) of a naive loss is -inf, and a loss summed
    instead of averaged over the batch is always B times too large, never 0 = 0.
    """
    def make(rng):
        names = activations
        if names is None:
            names = _random_activations(rng, depth or int(rng.integers(1, 4)))
        L = len(names) + 1
        dims = list(sizes) if sizes else distinct_sizes(rng, L + 2, 2, 12)
        if loss == "sigmoid_bce" and not sizes:
            dims[-1] = 1  # deck 000: one output neuron
        B, widths = dims[0], dims[1:]
        params = random_params(rng, widths)
        Y = _targets(rng, B, widths[-1], loss)
        if huge:
            signs = np.where(np.arange(widths[-1]) % 2 == 0, 1.0, -1.0)
            params[f"b{L}"] = 900.0 * signs
            if loss == "sigmoid_bce":
                Y = np.tile((signs < 0).astype(np.float64), (B, 1))
            elif loss == "softmax_ce":  # each target: a class with bias -900
                Y = np.zeros((B, widths[-1]))
                Y[np.arange(B), 1 + 2 * rng.integers(0, widths[-1] // 2, size=B)] = 1.0
        return {"X": rng.standard_normal((B, widths[0])), "Y": Y,
                "params": params, "activations": list(names), "loss": loss}
    return make


def _example_inputs(loss: str, activations=None, sizes=None):
    """``make_inputs`` of a per-example case: x (n_0,), y (n_L,), params."""
    batch = _network_inputs(loss, activations, (1,) + tuple(sizes) if sizes else None)

    def make(rng):
        inputs = batch(rng)
        inputs["x"], inputs["y"] = inputs.pop("X")[0], inputs.pop("Y")[0]
        return {"x": inputs["x"], "y": inputs["y"], "params": inputs["params"],
                "activations": inputs["activations"], "loss": inputs["loss"]}
    return make


# ----------------------------------------------------------------------------- network_loss
def _ref_loss(X, Y, params, activations, loss):
    return reference_loss(X, Y, params, activations, loss)


def _cmp_loss(actual, expected, inputs):
    if type(actual) not in (float, np.float64):
        hint = ""
        if type(actual) is np.ndarray:
            hint = ": return one number, e.g. float(np.mean(...)), not an array"
        return False, f"the loss should be a float, got {kind_of(actual)}{hint}"
    value = float(actual)
    if not np.isfinite(value):
        return False, (f"the loss is {value}: compute it stably from the logits z^[L] (subtract the "
                       "row max before exp for softmax; log(1 + exp(-|z|)) for the sigmoid)")
    if abs(value - expected) <= ATOL + RTOL * abs(expected):
        return True, ""
    B = inputs["X"].shape[0]
    message = f"the loss is {value:.10g}, expected {expected:.10g}"
    if abs(value - expected * B) <= ATOL + RTOL * abs(expected * B):
        message += ". Hint: the cost is the MEAN over the batch of the per-example losses"
    elif inputs["loss"] != "softmax_ce" and inputs["Y"].shape[1] > 1 and \
            abs(value * inputs["Y"].shape[1] - expected) <= ATOL + RTOL * abs(expected):
        message += ". Hint: the per-example loss SUMS over the output units; only the batch is averaged"
    return False, message


# ----------------------------------------------------------------------------- backprop_example
def _ref_example(x, y, params, activations, loss):
    return reference_grads(x[None, :], y[None, :], params, activations, loss)


def _cmp_example(actual, expected, inputs):
    return _judge_grads(actual, expected, inputs, per_example=True)


# ----------------------------------------------------------------------------- backprop
def _ref_backprop(X, Y, params, activations, loss):
    return reference_grads(X, Y, params, activations, loss)


def _cmp_backprop(actual, expected, inputs):
    return _judge_grads(actual, expected, inputs, per_example=False)


def _timing_inputs(rng, variant):
    B, N = TIMING_SIZES
    widths = [N] + list(variant["hidden_sizes"]) + [NUM_CLASSES]
    return {"X": rng.random((B, N)), "Y": _targets(rng, B, NUM_CLASSES, "softmax_ce"),
            "params": random_params(rng, widths), "activations": list(variant["activations"]),
            "loss": "softmax_ce"}


def _cmp_timing(actual, expected, inputs):
    if type(actual) is not dict:
        return False, f"timing result should be a dict, got {kind_of(actual)}"
    ok, msg = _cmp_backprop(actual.get("output"), expected, inputs)
    if not ok:
        return False, f"wrong gradients on the B={inputs['X'].shape[0]} batch:\n" + msg
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


# ----------------------------------------------------------------------------- numerical_grads
def reference_numerical_grads(X, Y, params, activations, loss, eps, mistake=None):
    """Centred differences (f(p + eps) - f(p - eps)) / (2 eps) of the mean loss, entry by entry.

    ``mistake``: ``"one_sided"`` computes (f(p + eps) - f(p)) / eps instead, ``"not_restored"``
    leaves every changed entry at p - eps (the two typical mistakes the hints name).
    """
    shifted = {k: v.copy() for k, v in params.items()}
    base = reference_loss(X, Y, params, activations, loss)
    grads = {}
    for key, value in shifted.items():
        grad = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + eps
            plus = reference_loss(X, Y, shifted, activations, loss)
            if mistake == "one_sided":
                value[idx] = old
                grad[idx] = (plus - base) / eps
                continue
            value[idx] = old - eps
            minus = reference_loss(X, Y, shifted, activations, loss)
            if mistake != "not_restored":
                value[idx] = old
            grad[idx] = (plus - minus) / (2.0 * eps)
        grads[key] = grad
    return grads


def _numeric_inputs(loss, activations=None, eps=1e-5):
    batch = _network_inputs(loss, activations)

    def make(rng):
        return {**batch(rng), "eps": eps}
    return make


def _ref_numeric(X, Y, params, activations, loss, eps):
    return {"numerical": reference_numerical_grads(X, Y, params, activations, loss, eps),
            "analytic": reference_grads(X, Y, params, activations, loss)}


def _rel_error(a, b) -> float:
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    return 0.0 if scale == 0 else float(np.max(np.abs(a - b))) / scale


def _matches_mutant(value, key, inputs, mistake) -> bool:
    """Whether ``value`` (the student's entry ``key``) is what ``mistake`` computes."""
    args = {k: inputs[k] for k in ("X", "Y", "params", "activations", "loss", "eps")}
    wrong = reference_numerical_grads(**args, mistake=mistake)[key]
    return _rel_error(value, wrong) < 1e-8


NUMERIC_CALLS = ("network_loss", "backprop", "backprop_example")
"""Calls counted while ``numerical_grads`` runs: it must use ``network_loss`` and no backprop."""


def _cmp_numeric(actual, expected, inputs):
    numerical, analytic = expected["numerical"], expected["analytic"]
    if type(actual) is not dict or type(actual.get("calls")) is not dict:
        return False, "the run did not report which functions numerical_grads called"
    calls = {name: actual["calls"].get(name, 0) for name in NUMERIC_CALLS}
    if any(type(count) is not int for count in calls.values()):
        return False, "the run did not report which functions numerical_grads called"
    if calls["backprop"] or calls["backprop_example"]:
        return False, ("numerical_grads called your backprop: a gradient check must compute the "
                       "gradient from the loss alone (network_loss), or it checks nothing")
    if not calls["network_loss"]:
        return False, "numerical_grads must evaluate the cost with your network_loss"
    actual = actual.get("output")
    if type(actual) is not dict:
        return False, f"numerical_grads should return a dict like params, got {kind_of(actual)}"
    problems = []
    for key, ref in numerical.items():
        value = actual.get(key)
        ok, message = check_array(value, ref, name=f"numerical[{key!r}]", rtol=1.0, atol=np.inf)
        if not ok:  # type, dtype, shape or NaN problems only (the values are judged below)
            problems.append(message)
            continue
        error = _rel_error(value, ref)
        if error < GRADCHECK_TOLERANCE:
            continue
        message = (f"numerical[{key!r}] has rel_error {error:.2g} to centred differences with "
                   f"eps={inputs['eps']:g} (should be below {GRADCHECK_TOLERANCE:g})")
        if _rel_error(value, analytic[key]) < GRADCHECK_TOLERANCE:
            message += ": it matches the analytic gradient: compute it from the loss alone"
        elif np.allclose(value, 2.0 * ref, rtol=1e-4, atol=1e-9):
            message += ". Hint: a centred difference divides by 2 eps, not eps"
        elif np.allclose(value, -ref, rtol=1e-4, atol=1e-9):
            message += ". Hint: (f(p + eps) - f(p - eps)) / (2 eps): the sign is reversed"
        elif _matches_mutant(value, key, inputs, "not_restored"):
            message += (". Hint: put every entry back to its old value before you change the next "
                        "one")
        elif _matches_mutant(value, key, inputs, "one_sided"):
            message += (". Hint: a one-sided difference (f(p + eps) - f(p)) / eps is much less "
                        "accurate than the centred one")
        else:
            message += (". Hint: change one entry at a time, restore it before the next, and call "
                        "your network_loss on the whole dict")
        problems.append(message)
    return (not problems), "\n".join(problems)


# ----------------------------------------------------------------------------- sgd_step
def _sgd_inputs(fixed_lr=None):
    def make(rng):
        widths = distinct_sizes(rng, int(rng.integers(3, 6)), 2, 10)
        params = random_params(rng, widths)
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        lr = fixed_lr if fixed_lr is not None else float(rng.uniform(0.01, 0.5))
        return {"params": params, "grads": grads, "lr": lr}
    return make


def _ref_sgd(params, grads, lr):
    return {k: params[k] - lr * grads[k] for k in params}


def _cmp_sgd(actual, expected, inputs):
    params, grads, lr = inputs["params"], inputs["grads"], inputs["lr"]
    hints = {k: [(lambda k=k: params[k] + lr * grads[k],
                  "step AGAINST the gradient: params - lr * grads"),
                 (lambda k=k: params[k] - grads[k], "scale the step by the learning rate lr")]
             for k in params}
    return check_dict(actual, expected, name="new params", key_hints=hints)


# ----------------------------------------------------------------------------- train_classifier
def mnist_variant(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One student's variant of the MNIST subset (see the module docstring).

    Returns ``{"X_train": (3750, 784), "y_train": (3750,), "X_test": (1250, 784),
    "y_test": (1250,)}``: a stratified split with a seed drawn from ``rng``, the pixel columns
    permuted and the labels renamed by permutations drawn from ``rng``.
    """
    X, y = data.load_mnist_subset()
    X_train, X_test, y_train, y_test = data.train_test_split(
        X, y, test_fraction=TEST_FRACTION, seed=int(rng.integers(2 ** 31)))
    pixels = rng.permutation(X.shape[1])
    names = rng.permutation(NUM_CLASSES)
    return {"X_train": np.ascontiguousarray(X_train[:, pixels]), "y_train": names[y_train],
            "X_test": np.ascontiguousarray(X_test[:, pixels]), "y_test": names[y_test]}


def _train_inputs(rng, variant):
    split = mnist_variant(rng)
    return {"X_train": split["X_train"], "y_train": split["y_train"],
            "hidden_sizes": list(variant["hidden_sizes"]),
            "activations": list(variant["activations"]),
            "_X_test": split["X_test"], "_y_test": split["y_test"]}


def _ref_held_out(X_train, y_train, hidden_sizes, activations, _X_test, _y_test):
    return {"X_test": _X_test, "y_test": _y_test}


def accuracy_credit(accuracy: float) -> float:
    """Fraction of the points: 1 from 88 %, linear down to 0 at 70 %."""
    span = FULL_MARKS_ACCURACY - ZERO_CREDIT_ACCURACY
    return float(np.clip((accuracy - ZERO_CREDIT_ACCURACY) / span, 0.0, 1.0))


def _param_problems(params, n_in: int, hidden_sizes) -> str:
    if type(params) is not dict:
        return f"train_classifier should return a dict of parameters, got {kind_of(params)}"
    widths = [n_in] + list(hidden_sizes) + [NUM_CLASSES]
    keys = [f"{p}{l}" for l in range(1, len(widths)) for p in ("W", "b")]
    missing = [k for k in keys if k not in params]
    if missing:
        return (f"the returned parameters are missing {missing} (a network with hidden widths "
                f"{list(hidden_sizes)} has {len(widths) - 1} layers)")
    for l in range(1, len(widths)):
        wanted = {f"W{l}": (widths[l], widths[l - 1]), f"b{l}": (widths[l],)}
        for key, shape in wanted.items():
            value = params[key]
            if type(value) is not np.ndarray or value.dtype != np.float64:
                return f"{key} should be a float64 ndarray, got {kind_of(value)}"
            if value.shape != shape:
                return (f"{key} has shape {value.shape}, expected {shape} (W is (n_out, n_in); "
                        f"hidden widths {list(hidden_sizes)}, {n_in} inputs, {NUM_CLASSES} classes)")
            if not bool(np.all(np.isfinite(value))):
                return f"{key} contains NaN or inf: was the learning rate too large?"
    return ""


def _cmp_accuracy(actual, expected, inputs):
    X_test, y_test = expected["X_test"], expected["y_test"]
    if type(actual) is not dict or type(actual.get("calls")) is not dict:
        return 0.0, "the training run did not report which functions it called"
    calls = actual["calls"]
    unused = [name for name in TRAINING_CALLS if not (type(calls.get(name)) is int and calls[name] > 0)]
    if unused:
        return 0.0, (f"train_classifier must train the network with your own {' and '.join(unused)}"
                     " (not called while it ran); weights computed elsewhere earn no points")
    problem = _param_problems(actual.get("output"), X_test.shape[1], inputs["hidden_sizes"])
    if problem:
        return 0.0, problem
    params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in actual["output"].items()
              if type(k) is str and k[:1] in "Wb" and k[1:].isdigit()
              and int(k[1:]) <= len(inputs["hidden_sizes"]) + 1}
    predictions = np.argmax(logits(X_test, params, inputs["activations"]), axis=1)
    accuracy = float(np.mean(predictions == y_test))
    credit = accuracy_credit(accuracy)
    return credit, (f"held-out accuracy {accuracy:.1%} on {y_test.shape[0]} images (full marks "
                    f"from {FULL_MARKS_ACCURACY:.0%}, partial credit above "
                    f"{ZERO_CREDIT_ACCURACY:.0%}): {credit:.0%} of the points")


# ----------------------------------------------------------------------------- spec
_EX = "test_backprop_example"
CASES = (
    HintedCase("network_loss, softmax-CE, relu-tanh, B=7", "network_loss",
         _network_inputs("softmax_ce", ["relu", "tanh"], (7, 6, 5, 4, 3)), _ref_loss, _cmp_loss,
         0.5, "test_network_loss"),
    HintedCase("network_loss, sigmoid-BCE (one output), relu, B=6", "network_loss",
         _network_inputs("sigmoid_bce", ["relu"], (6, 5, 4, 1)), _ref_loss, _cmp_loss, 0.5,
         "test_network_loss"),
    HintedCase("network_loss, identity-MSE, sigmoid, B=5", "network_loss",
         _network_inputs("identity_mse", ["sigmoid"], (5, 4, 3, 2)), _ref_loss, _cmp_loss, 0.5,
         "test_network_loss"),
    HintedCase("network_loss, softmax-CE, random depth, logits in the hundreds", "network_loss",
         _network_inputs("softmax_ce", huge=True), _ref_loss, _cmp_loss, 0.25,
         "test_network_loss", hidden=True),
    HintedCase("network_loss, sigmoid-BCE, logits in the hundreds", "network_loss",
         _network_inputs("sigmoid_bce", huge=True), _ref_loss, _cmp_loss, 0.25,
         "test_network_loss", hidden=True),

    HintedCase("backprop_example, softmax-CE, relu-tanh, n=(6, 5, 4, 3)", "backprop_example",
         _example_inputs("softmax_ce", ["relu", "tanh"], (6, 5, 4, 3)), _ref_example,
         _cmp_example, 1.0, _EX),
    HintedCase("backprop_example, sigmoid-BCE, relu-relu, n=(5, 4, 3, 1) (deck 000)",
         "backprop_example", _example_inputs("sigmoid_bce", ["relu", "relu"], (5, 4, 3, 1)),
         _ref_example, _cmp_example, 1.0, _EX),
    HintedCase("backprop_example, identity-MSE, sigmoid, n=(4, 3, 2)", "backprop_example",
         _example_inputs("identity_mse", ["sigmoid"], (4, 3, 2)), _ref_example, _cmp_example,
         1.0, _EX),
    *(HintedCase(f"backprop_example, {loss}, random depth and activations", "backprop_example",
           _example_inputs(loss), _ref_example, _cmp_example, 2.0 / 3.0, _EX, hidden=True)
      for loss in LOSSES),

    HintedCase("backprop, softmax-CE, tanh-relu, B=7", "backprop",
         _network_inputs("softmax_ce", ["tanh", "relu"], (7, 6, 5, 4, 3)), _ref_backprop,
         _cmp_backprop, 1.0, "test_backprop"),
    HintedCase("backprop, sigmoid-BCE, relu-relu, B=8 (deck 000)", "backprop",
         _network_inputs("sigmoid_bce", ["relu", "relu"], (8, 6, 4, 3, 1)), _ref_backprop,
         _cmp_backprop, 1.0, "test_backprop"),
    HintedCase("backprop, identity-MSE, tanh, B=6", "backprop",
         _network_inputs("identity_mse", ["tanh"], (6, 5, 4, 2)), _ref_backprop, _cmp_backprop,
         0.5, "test_backprop"),
    *(HintedCase(f"backprop, {loss}, random depth and activations", "backprop", _network_inputs(loss),
           _ref_backprop, _cmp_backprop, 0.5, "test_backprop", hidden=True)
      for loss in LOSSES),
    HintedCase("backprop on B=2048 inputs of width 64, your network, timed against a vectorized "
         "baseline", "backprop", _timing_inputs, _ref_backprop, _cmp_timing, 2.0,
         "test_backprop_vectorized", kind="timing", baseline="baseline_backprop_layers",
         per_student=True),

    HintedCase("numerical_grads, softmax-CE, tanh, eps=1e-5", "numerical_grads",
         _numeric_inputs("softmax_ce", ["tanh"]), _ref_numeric, _cmp_numeric, 1.0,
         "test_numerical_grads", count_calls=NUMERIC_CALLS),
    HintedCase("numerical_grads, identity-MSE, sigmoid-tanh, eps=1e-4", "numerical_grads",
         _numeric_inputs("identity_mse", ["sigmoid", "tanh"], eps=1e-4), _ref_numeric,
         _cmp_numeric, 1.0, "test_numerical_grads", count_calls=NUMERIC_CALLS),
    HintedCase("numerical_grads, sigmoid-BCE, random depth, eps=1e-4", "numerical_grads",
         _numeric_inputs("sigmoid_bce", eps=1e-4), _ref_numeric, _cmp_numeric, 1.0,
         "test_numerical_grads", hidden=True, count_calls=NUMERIC_CALLS),

    HintedCase("sgd_step, 3-5 layers, lr=0.1", "sgd_step", _sgd_inputs(0.1), _ref_sgd, _cmp_sgd, 0.5,
         "test_sgd_step"),
    HintedCase("sgd_step, random sizes and lr", "sgd_step", _sgd_inputs(), _ref_sgd, _cmp_sgd, 0.5,
         "test_sgd_step", hidden=True),

    HintedCase("train_classifier: accuracy on your held-out MNIST images", "train_classifier",
         _train_inputs, _ref_held_out, _cmp_accuracy, 5.0, "test_train_classifier",
         kind="accuracy", per_student=True, count_calls=TRAINING_CALLS),
)

SPEC = AssignmentSpec(
    name=NAME,
    notebook=f"{NAME}.ipynb",
    functions=("network_loss", "backprop_example", "backprop", "numerical_grads", "sgd_step",
               "train_classifier"),
    cases=CASES,
    written=dict(WRITTEN),
    variant_of=variant_of,
)
