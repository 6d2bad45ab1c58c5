"""Affine layer (both bias forms), activation and softmax layers."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course import layers
from course.backend import to_numpy
from course.gradcheck import numerical_gradient, rel_error


def test_linear_forward_worked_example(xp):
    x = xp.asarray([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]])  # B=3, n_in=2
    W = xp.asarray([[1.0, 0.0], [2.0, -1.0], [0.5, 0.5], [0.0, 1.0]])  # n_out=4
    b = xp.asarray([0.1, 0.2, 0.3, 0.4])
    z, _ = layers.linear_forward(x, W, b)
    expected = np.array([[1.1, 0.2, 1.8, 2.4], [0.1, 1.2, -0.2, -0.6], [3.1, 5.7, 2.05, 0.9]])
    assert to_numpy(z) == pytest.approx(expected)


def test_augmented_form_equals_separate_bias(xp):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    W_tilde = layers.augment_weights(xp.asarray(W), xp.asarray(b))
    assert tuple(W_tilde.shape) == (4, 4)
    assert to_numpy(W_tilde)[:, 0] == pytest.approx(b)
    z_aug, cache = layers.augmented_linear_forward(xp.asarray(x), W_tilde)
    z, _ = layers.linear_forward(xp.asarray(x), xp.asarray(W), xp.asarray(b))
    assert to_numpy(z_aug) == pytest.approx(to_numpy(z), abs=1e-14)
    assert to_numpy(layers.augment(xp.asarray(x)))[:, 0].tolist() == [1.0] * 5
    W_back, b_back = layers.split_augmented(W_tilde)
    assert to_numpy(W_back) == pytest.approx(W) and to_numpy(b_back) == pytest.approx(b)
    # backprop through the augmented form gives [db | dW]
    dz = xp.asarray(rng.standard_normal((5, 4)))
    _, dW_tilde, _ = layers.linear_backward(dz, cache)
    _, dW, db = layers.linear_backward(dz, (xp.asarray(x), xp.asarray(W)))
    assert to_numpy(dW_tilde) == pytest.approx(np.concatenate([to_numpy(db)[:, None], to_numpy(dW)], axis=1))


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 5), st.integers(1, 5))
def test_linear_backward_matches_centred_differences(seed, batch, n_in, n_out):
    rng = np.random.default_rng(seed)
    x, W, b = rng.standard_normal((batch, n_in)), rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    dz = rng.standard_normal((batch, n_out))

    def f():
        return float(np.sum(layers.linear_forward(x, W, b)[0] * dz))

    _, cache = layers.linear_forward(x, W, b)
    dx, dW, db = layers.linear_backward(dz, cache)
    assert dx.shape == x.shape and dW.shape == W.shape and db.shape == b.shape
    # the centred difference's rounding error is about eps |f| / h in absolute terms, so a
    # gradient that happens to be tiny is compared with an absolute tolerance above that
    rounding = 1e-16 * (1.0 + abs(f())) / 1e-5
    for analytic, variable in ((dx, x), (dW, W), (db, b)):
        numeric = numerical_gradient(f, variable)
        assert rel_error(analytic, numeric) < 1e-7 or np.max(np.abs(analytic - numeric)) < 100 * rounding


def test_layer_classes_chain(xp):
    rng = np.random.default_rng(1)
    lin = layers.Linear(3, 4, rng=rng, xp=xp)
    act = layers.Activation("relu", subgradient_at_zero=0.5)
    soft = layers.Softmax()
    x = xp.asarray(rng.standard_normal((2, 3)))
    y = soft.forward(act.forward(lin.forward(x)))
    assert tuple(y.shape) == (2, 4)
    dx = lin.backward(act.backward(soft.backward(xp.ones_like(y))))
    assert tuple(dx.shape) == (2, 3) and tuple(lin.dW.shape) == (4, 3) and tuple(lin.db.shape) == (4,)
    # softmax outputs sum to 1, so an all-ones upstream gradient gives zero downstream
    assert np.abs(to_numpy(dx)).max() < 1e-12


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: layers.linear_forward(np.zeros((2, 3)), np.zeros((3, 4)), np.zeros(3)), r"x must have shape \(B, 4\) to match W of shape \(3, 4\) \(n_out, n_in\), got \(2, 3\)"),
        (lambda: layers.linear_forward(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros(3)), r"b must have shape \(4,\) \(n_out,\), got \(3,\)"),
        (lambda: layers.linear_forward(np.zeros(3), np.zeros((4, 3)), np.zeros(4)), r"x must have 2 dimensions, got shape \(3,\)"),
        (lambda: layers.linear_forward(np.zeros((2, 3), dtype=np.int32), np.zeros((4, 3)), np.zeros(4)), r"x must have a floating-point dtype .* got int32"),
        (lambda: layers.linear_backward(np.zeros((2, 5)), (np.zeros((2, 3)), np.zeros((4, 3)))), r"dz must have shape \(2, 4\) \(B, n_out\), got \(2, 5\)"),
        (lambda: layers.augmented_linear_forward(np.zeros((2, 3)), np.zeros((4, 3))), r"W_tilde must have shape \(n_out, 4\) = \(n_out, n_in \+ 1\) .* got \(4, 3\)"),
        (lambda: layers.Linear(0, 3), r"n_in must be a positive integer, got 0"),
        (lambda: layers.Linear(2, 3, init="zeros"), r"init must be one of \['glorot', 'he', 'lecun'\], got 'zeros'"),
        (lambda: layers.Linear(2, 3).backward(np.zeros((1, 3))), r"call forward before backward"),
    ],
)
def test_bad_input_gives_actionable_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize("init, variance", [("he", lambda i, o: 2 / i), ("lecun", lambda i, o: 1 / i),
                                            ("glorot", lambda i, o: 2 / (i + o))])
def test_initialisations_draw_the_documented_normal(init, variance):
    n_in, n_out = 30, 10
    assert layers.init_scale(init, n_in, n_out) == pytest.approx(np.sqrt(variance(n_in, n_out)), rel=1e-15)
    W, b = layers.init_weights(n_in, n_out, np.random.default_rng(4), init)
    expected = np.random.default_rng(4).standard_normal((n_out, n_in)) * np.sqrt(variance(n_in, n_out))
    assert np.array_equal(W, expected) and np.array_equal(b, np.zeros(n_out))
    # and the sample variance of a large layer is close to the formula
    W_big, _ = layers.init_weights(2000, 500, np.random.default_rng(0), init)
    assert W_big.var() == pytest.approx(variance(2000, 500), rel=0.02)


def test_xavier_is_refused_with_both_meanings_named():
    with pytest.raises(ValueError, match=r"init 'xavier' is ambiguous: use 'glorot' for N\(0, 2 / \(n_in \+ n_out\)\) .* or 'lecun' for N\(0, 1 / n_in\)"):
        layers.init_weights(3, 2, np.random.default_rng(0), "xavier")
    with pytest.raises(ValueError, match="xavier"):
        layers.Linear(3, 2, init="xavier")


def test_layer_sizes_must_be_real_integers():
    with pytest.raises(ValueError, match=r"n_in must be a positive integer, got True"):
        layers.init_weights(True, 2, np.random.default_rng(0))
