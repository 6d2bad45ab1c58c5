"""Losses: worked examples, gradients against centred differences, extreme logits, bad input."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course import losses as L
from course.activations import sigmoid, softmax
from course.backend import to_numpy
from course.gradcheck import numerical_gradient, rel_error


def _check_grad(loss_fn, x, *args):
    _, grad = loss_fn(x, *args)
    numeric = numerical_gradient(lambda: loss_fn(x, *args)[0], x)
    return rel_error(grad, numeric)


def test_worked_examples(xp):
    y_hat = xp.asarray([0.9, 0.2])
    y = xp.asarray([1.0, 0.0])
    loss, grad = L.mse(y_hat, y)
    assert loss == pytest.approx((0.1**2 + 0.2**2) / 2)
    assert to_numpy(grad) == pytest.approx([2 * -0.1 / 2, 2 * 0.2 / 2])
    loss, _ = L.binary_cross_entropy(y_hat, y)
    assert loss == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2)
    loss, _ = L.cross_entropy(xp.asarray([[0.7, 0.2, 0.1]]), xp.asarray([0]))
    assert loss == pytest.approx(-np.log(0.7))
    loss, grad = L.zero_one_loss(xp.asarray([0.7, 0.4, 0.5]), xp.asarray([1.0, 1.0, 0.0]))
    assert loss == pytest.approx(2 / 3)
    assert to_numpy(grad).tolist() == [0.0, 0.0, 0.0]


def test_softmax_cross_entropy_gradient_is_y_hat_minus_y_tilde(xp):
    z = xp.asarray([[2.0, -1.0, 0.5], [0.0, 0.0, 3.0]])
    labels = xp.asarray([0, 2])
    _, grad = L.softmax_cross_entropy(z, labels)
    Y = np.array([[1.0, 0, 0], [0, 0, 1.0]])
    assert to_numpy(grad) == pytest.approx((to_numpy(softmax(z)) - Y) / 2, abs=1e-15)
    loss_onehot, grad_onehot = L.softmax_cross_entropy(z, xp.asarray(Y))
    assert loss_onehot == pytest.approx(L.softmax_cross_entropy(z, labels)[0])
    assert to_numpy(grad_onehot) == pytest.approx(to_numpy(grad))


def test_fused_equals_softmax_then_cross_entropy():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    assert L.softmax_cross_entropy(z, labels)[0] == pytest.approx(L.cross_entropy(softmax(z), labels)[0])
    assert L.binary_cross_entropy_with_logits(z[:, 0], (labels % 2).astype(float))[0] == pytest.approx(
        L.binary_cross_entropy(sigmoid(z[:, 0]), (labels % 2).astype(float))[0]
    )


@given(st.integers(0, 2**32 - 1), st.integers(1, 7), st.integers(2, 6))
def test_gradients_match_centred_differences(seed, batch, classes):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, classes))
    labels = rng.integers(0, classes, batch)
    Y = np.eye(classes)[labels]
    probs = softmax(0.3 * z)  # bounded away from 0, where log(p) is well conditioned
    v = (rng.random(batch) > 0.5).astype(float)
    assert _check_grad(L.softmax_cross_entropy, z, labels) < 1e-7
    assert _check_grad(L.cross_entropy, probs, Y) < 1e-7
    assert _check_grad(L.mse, z, Y) < 1e-7
    assert _check_grad(L.binary_cross_entropy_with_logits, z[:, 0], v) < 1e-7
    assert _check_grad(L.binary_cross_entropy, sigmoid(z[:, 0]), v) < 1e-7
    assert _check_grad(lambda q, p: L.kl_divergence(p, q), softmax(z * 0.5), probs) < 1e-7


def test_kl_is_cross_entropy_minus_entropy_and_zero_for_equal(xp):
    p = xp.asarray([[0.5, 0.5, 0.0], [0.1, 0.6, 0.3]])
    q = xp.asarray([[0.2, 0.3, 0.5], [0.3, 0.3, 0.4]])
    assert L.kl_divergence(p, p)[0] == pytest.approx(0.0, abs=1e-15)
    p_np, q_np = to_numpy(p), to_numpy(q)
    entropy = -np.sum(np.where(p_np > 0, p_np * np.log(np.where(p_np > 0, p_np, 1)), 0)) / 2
    cross = -np.sum(p_np * np.log(q_np)) / 2
    assert L.kl_divergence(p, q)[0] == pytest.approx(cross - entropy)


def test_extreme_logits_finite_and_silent(xp):
    z = xp.asarray([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = L.softmax_cross_entropy(z, xp.asarray([1, 2]))
        assert np.isfinite(loss) and np.all(np.isfinite(to_numpy(grad)))
        assert loss == pytest.approx(1000.0)  # 2000 for the first example, 0 for the second, mean 1000
        v = xp.asarray([0.0, 1.0])
        loss, grad = L.binary_cross_entropy_with_logits(xp.asarray([1000.0, -1000.0]), v)
        assert loss == pytest.approx(1000.0) and to_numpy(grad).tolist() == [0.5, -0.5]
        loss, grad = L.binary_cross_entropy(sigmoid(xp.asarray([1000.0, -1000.0])), v)
        assert np.isfinite(loss) and np.all(np.isfinite(to_numpy(grad)))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])), r"y must hold labels in \[0, 2\], got values from 0 to 3"),
        (lambda: L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), r"integer class labels of shape \(B,\) or one-hot .* got dtype float64 and shape \(2,\)"),
        (lambda: L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])), r"z and y must have the same batch size .* got 2 and 3"),
        (lambda: L.softmax_cross_entropy(np.zeros((2, 3)), np.zeros((2, 4))), r"y must have shape \(B, 3\) .* got \(2, 4\)"),
        (lambda: L.softmax_cross_entropy(np.zeros(3), np.array([0])), r"z must have 2 dimensions, got shape \(3,\)"),
        (lambda: L.softmax_cross_entropy(np.array([[np.nan, 0.0]]), np.array([0])), r"z contains NaN or infinite values"),
        (lambda: L.mse(np.zeros(3, dtype=np.int64), np.zeros(3)), r"y_hat must have a floating-point dtype .* got int64"),
        (lambda: L.mse(np.zeros(3), np.zeros((3, 1))), r"same shape, got \(3,\) and \(3, 1\)"),
        (lambda: L.binary_cross_entropy(np.array([0.2, 1.5]), np.array([0.0, 1.0])), r"y_hat must hold probabilities in \[0, 1\]"),
        (lambda: L.binary_cross_entropy_with_logits(np.zeros(2), np.array([0.0, 2.0])), r"y must contain only 0 and 1"),
        (lambda: L.get_loss("hinge"), r"loss must be one of .* got 'hinge'"),
    ],
)
def test_bad_input_gives_actionable_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_registry_covers_every_loss():
    for name, fn in L.LOSSES.items():
        assert L.get_loss(name) is fn


# ----------------------------------------------------------------------------- library edges
def _every_loss_on_a_batch(batch, classes=3):
    """Valid arguments of every loss for a batch of ``batch`` examples (B may be 0)."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((batch, classes))
    probs = softmax(z) if batch else np.zeros((0, classes))
    labels = rng.integers(0, classes, batch)
    v = (labels % 2).astype(float)
    return {
        "zero_one": (probs, labels),
        "mse": (z, np.eye(classes)[labels]),
        "binary_cross_entropy": (sigmoid(z[:, 0]) if batch else np.zeros(0), v),
        "binary_cross_entropy_with_logits": (z[:, 0], v),
        "cross_entropy": (probs, labels),
        "softmax_cross_entropy": (z, labels),
        "kl_divergence": (probs, probs),
    }


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_an_empty_batch_is_refused_by_every_loss(name):
    first_name = "z" if name in ("binary_cross_entropy_with_logits", "softmax_cross_entropy") else (
        "p" if name == "kl_divergence" else "y_hat")
    args = _every_loss_on_a_batch(0)[name]
    with pytest.raises(ValueError, match=rf"{first_name} must hold at least one example, got shape \(0,"):
        L.LOSSES[name](*args)


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_every_loss_accepts_lists_tuples_and_matrices(name):
    args = _every_loss_on_a_batch(4)[name]
    loss, grad = L.LOSSES[name](*args)
    as_lists = [a.tolist() for a in args]
    loss_lists, grad_lists = L.LOSSES[name](*as_lists)
    assert loss_lists == pytest.approx(loss, rel=1e-15) and type(grad_lists) is np.ndarray
    assert to_numpy(grad_lists) == pytest.approx(to_numpy(grad), rel=1e-15)
    as_tuples = [tuple(map(tuple, a)) if a.ndim == 2 else tuple(a) for a in args]
    assert L.LOSSES[name](*as_tuples)[0] == pytest.approx(loss, rel=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        as_matrices = [np.matrix(a) if a.ndim == 2 else a for a in args]
    loss_m, grad_m = L.LOSSES[name](*as_matrices)
    assert loss_m == pytest.approx(loss, rel=1e-15) and type(grad_m) is np.ndarray
    assert to_numpy(grad_m).shape == to_numpy(grad).shape


def test_integer_binary_targets_are_converted():
    z = np.array([0.5, -1.0, 2.0])
    as_float = L.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0, 1.0]))
    for y in (np.array([1, 0, 1]), [1, 0, 1], np.array([True, False, True])):
        loss, grad = L.binary_cross_entropy_with_logits(z, y)
        assert loss == as_float[0] and to_numpy(grad).tolist() == to_numpy(as_float[1]).tolist()


def test_integer_one_hot_rows_equal_float_rows():
    z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    Y = np.array([[0, 1, 0], [0, 0, 1]])
    assert L.softmax_cross_entropy(z, Y)[0] == L.softmax_cross_entropy(z, Y.astype(float))[0]


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(2, 6), st.floats(0.05, 5.0))
def test_soft_labels_get_the_gradient_of_the_returned_loss(seed, batch, classes, temperature):
    """Soft-label rows (non-negative, summing to 1) are accepted; the gradient is that of the
    returned loss, checked against centred differences over random soft targets."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, classes)) * 3
    soft = softmax(rng.standard_normal((batch, classes)) / temperature)
    assert _check_grad(L.softmax_cross_entropy, z, soft) < 1e-7
    probs = softmax(0.3 * rng.standard_normal((batch, classes)))  # away from 0, where log is well conditioned
    assert _check_grad(L.cross_entropy, probs, soft) < 1e-7
    # the value is the soft-target mix of the one-hot losses: sum_k Y_bk (-log softmax(z_b)_k)
    loss, _ = L.softmax_cross_entropy(z, soft)
    one_hot_losses = np.stack([
        [L.softmax_cross_entropy(z[b:b + 1], np.array([k]))[0] for k in range(classes)] for b in range(batch)
    ])
    assert loss == pytest.approx(float(np.sum(soft * one_hot_losses)) / batch, rel=1e-12)


def test_soft_labels_worked_example():
    z = np.array([[0.0, np.log(3.0)]])  # softmax = [0.25, 0.75]
    loss, grad = L.softmax_cross_entropy(z, np.array([[0.3, 0.7]]))
    assert loss == pytest.approx(-(0.3 * np.log(0.25) + 0.7 * np.log(0.75)))
    assert to_numpy(grad) == pytest.approx(np.array([[0.25 - 0.3, 0.75 - 0.7]]), abs=1e-15)


def test_soft_labels_with_extreme_logits_stay_finite():
    z = np.array([[1000.0, -1000.0, 0.0]])
    loss, grad = L.softmax_cross_entropy(z, np.array([[0.2, 0.5, 0.3]]))
    assert loss == pytest.approx(0.5 * 2000 + 0.3 * 1000) and np.all(np.isfinite(grad))


@pytest.mark.parametrize(
    "rows, message",
    [
        ([[0.3, 0.3, 0.0]], r"y must hold class probabilities: every row must sum to 1 .* got row 0 summing to 0.6"),
        ([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]], r"got row 1 summing to 2"),
        ([[1.2, -0.2, 0.0]], r"y must hold class probabilities .* got negative values"),
        ([[np.nan, 1.0, 0.0]], r"y contains NaN or infinite values"),
    ],
)
def test_target_rows_that_are_not_distributions_are_refused(rows, message):
    for loss in (L.softmax_cross_entropy, L.cross_entropy):
        with pytest.raises(ValueError, match=message):
            loss(np.full((len(rows), 3), 1 / 3), np.array(rows))


def test_softmax_over_one_class_is_refused():
    with pytest.raises(ValueError, match=r"z must have at least 2 columns .* got shape \(3, 1\): softmax over one class"):
        L.softmax_cross_entropy(np.zeros((3, 1)), np.zeros(3, dtype=np.int64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_probability_clipping_as_documented(dtype):
    """y_hat is clipped to [eps, 1 - eps] (eps = machine epsilon of the dtype) before the log:
    a certain wrong answer costs -log(eps) and its gradient is the formula at the clip point."""
    eps = float(np.finfo(dtype).eps)
    y_hat = np.array([0.0, 1.0], dtype=dtype)
    y = np.array([1.0, 0.0], dtype=dtype)
    loss, grad = L.binary_cross_entropy(y_hat, y)
    assert loss == pytest.approx(-np.log(eps), rel=1e-5)
    assert to_numpy(grad) == pytest.approx([-1 / eps / 2, 1 / eps / 2], rel=1e-5)
    loss, grad = L.cross_entropy(np.array([[0.0, 1.0]], dtype=dtype), np.array([0]))
    assert loss == pytest.approx(-np.log(eps), rel=1e-5)
    assert to_numpy(grad)[0, 0] == pytest.approx(-1 / eps, rel=1e-5) and to_numpy(grad)[0, 1] == 0.0
    loss, grad = L.kl_divergence(np.array([[1.0, 0.0]], dtype=dtype), np.array([[0.0, 1.0]], dtype=dtype))
    assert loss == pytest.approx(-np.log(eps), rel=1e-5)
    assert to_numpy(grad)[0, 0] == pytest.approx(-1 / eps, rel=1e-5)
    assert "Probability clipping" in L.__doc__ and "eps" in L.binary_cross_entropy.__doc__


def test_zero_one_loss_refuses_fractional_labels():
    with pytest.raises(ValueError, match="y must hold whole-number class labels"):
        L.zero_one_loss(np.array([0.2, 0.9]), np.array([0.5, 1.0]))


_junk = st.one_of(
    st.none(), st.text(max_size=3), st.booleans(), st.complex_numbers(allow_nan=False),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.lists(st.one_of(st.floats(allow_nan=True), st.integers(-3, 3), st.text(max_size=1)), max_size=4),
    st.lists(st.lists(st.floats(-10, 10), max_size=3), max_size=3),
    st.builds(lambda shape: np.zeros(shape), st.lists(st.integers(0, 3), max_size=3)),
    st.builds(lambda shape: np.ones(shape, dtype=np.int64), st.lists(st.integers(0, 3), max_size=3)),
)


@given(st.sampled_from(sorted(L.LOSSES)), _junk, _junk)
def test_random_bad_input_gives_a_named_value_or_type_error(name, first, second):
    """Whatever is passed, a loss returns or raises ValueError/TypeError naming an argument:
    never AttributeError, IndexError or ZeroDivisionError from inside NumPy."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            L.LOSSES[name](first, second)
    except (ValueError, TypeError) as err:
        assert any(arg in str(err) for arg in ("y_hat", "y", "z", "p", "q")), str(err)
