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
