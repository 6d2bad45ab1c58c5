"""Activations: hand-checked values, derivatives against centred differences, extreme inputs."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course import activations as A
from course.backend import to_numpy
from course.gradcheck import numerical_gradient, rel_error

ELEMENTWISE = ["step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "identity"]


def test_hand_checked_values(xp):
    z = xp.asarray([-2.0, 0.0, 3.0])
    assert to_numpy(A.step(z)).tolist() == [0.0, 1.0, 1.0]
    assert to_numpy(A.relu(z)).tolist() == [0.0, 0.0, 3.0]
    assert to_numpy(A.leaky_relu(z, alpha=0.1)).tolist() == pytest.approx([-0.2, 0.0, 3.0])
    assert to_numpy(A.sigmoid(z)) == pytest.approx(1 / (1 + np.exp([2.0, 0.0, -3.0])))
    assert to_numpy(A.elu(z)) == pytest.approx([np.exp(-2.0) - 1, 0.0, 3.0])
    assert to_numpy(A.selu(z))[2] == pytest.approx(A.SELU_LAMBDA * 3.0)
    assert to_numpy(A.tanh(z)) == pytest.approx(np.tanh([-2.0, 0.0, 3.0]))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "identity"])
def test_derivative_matches_centred_differences(name, xp):
    act = A.get_activation(name)
    rng = np.random.default_rng(3)
    z_np = rng.standard_normal(20)
    z_np[np.abs(z_np) < 1e-3] = 0.5  # stay away from kinks
    z = xp.asarray(z_np)
    numeric = numerical_gradient(lambda: float(xp.sum(act.forward(z))), z)
    assert rel_error(act.derivative(z), numeric) < 1e-7


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 6))
def test_smooth_derivatives_property(seed, rows, cols):
    rng = np.random.default_rng(seed)
    # |z| >= 0.01, so no step of h = 1e-5 crosses 0, where SELU's derivative jumps
    z = rng.uniform(0.01, 4, size=(rows, cols)) * rng.choice([-1.0, 1.0], size=(rows, cols))
    for name in ["sigmoid", "tanh", "elu", "selu"]:
        act = A.get_activation(name)
        numeric = numerical_gradient(lambda: float(np.sum(act.forward(z))), z)
        assert rel_error(act.derivative(z), numeric) < 1e-7, name


@pytest.mark.parametrize("s", [0.0, 0.25, 0.5, 1.0])
def test_relu_derivative_at_exact_zero_is_the_subgradient(s, xp):
    z = xp.asarray([-1.0, 0.0, 0.0, 2.0])
    assert to_numpy(A.relu_derivative(z, subgradient_at_zero=s)).tolist() == [0.0, s, s, 1.0]
    act = A.get_activation("relu", subgradient_at_zero=s)
    assert to_numpy(act.derivative(xp.zeros(3, dtype=xp.float64))).tolist() == [s, s, s]


@pytest.mark.parametrize("bad, error", [(-0.1, ValueError), (1.5, ValueError), (2, ValueError),
                                        (float("nan"), ValueError), ("half", TypeError), (True, TypeError)])
def test_relu_subgradient_outside_unit_interval_is_rejected(bad, error):
    with pytest.raises(error, match="subgradient_at_zero must be"):
        A.relu_derivative(np.zeros(2), subgradient_at_zero=bad)
    # refused when the activation is built, not at its first derivative
    with pytest.raises(error, match="subgradient_at_zero must be"):
        A.get_activation("relu", subgradient_at_zero=bad)


def test_extreme_logits_are_finite_without_warnings(xp):
    z = xp.asarray([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (A.softmax, A.log_softmax, A.sigmoid, A.sigmoid_derivative, A.elu, A.selu, A.tanh):
            out = to_numpy(fn(z))
            assert np.all(np.isfinite(out)), fn.__name__
    p = to_numpy(A.softmax(z))
    assert p[0] == pytest.approx([0.0, 0.0, 1.0])
    assert p[1] == pytest.approx([0.5, 0.5, 0.0])
    assert to_numpy(A.log_softmax(z))[0] == pytest.approx([-2000.0, -1000.0, 0.0])
    assert to_numpy(A.sigmoid(xp.asarray([-1000.0, 1000.0]))).tolist() == [0.0, 1.0]


def test_softmax_jacobian_is_y_i_delta_ij_minus_y_j(xp):
    y = A.softmax(xp.asarray([1.0, 2.0, 0.5, -1.0]))
    J = to_numpy(A.softmax_jacobian(y))
    y_np = to_numpy(y)
    expected = np.array([[y_np[i] * ((i == j) - y_np[j]) for j in range(4)] for i in range(4)])
    assert J == pytest.approx(expected, abs=1e-15)
    assert np.allclose(J, J.T) and np.allclose(J.sum(axis=1), 0.0)


def test_softmax_jacobian_matches_centred_differences():
    rng = np.random.default_rng(0)
    z = rng.standard_normal(5)
    J = A.softmax_jacobian(A.softmax(z))
    for j in range(5):
        numeric = numerical_gradient(lambda: float(A.softmax(z)[j]), z)
        assert rel_error(J[j], numeric) < 1e-7


@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.integers(2, 7))
def test_softmax_vjp_equals_jacobian_transpose_times_g(seed, batch, classes):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, classes)) * 3
    g = rng.standard_normal((batch, classes))
    y = A.softmax(z)
    explicit = np.einsum("bij,bi->bj", A.softmax_jacobian(y), g)
    # both forms round relative to the size of g, not of the (possibly tiny) result
    assert np.max(np.abs(A.softmax_vjp(y, g) - explicit)) <= 1e-12 * np.max(np.abs(g))
    numeric = numerical_gradient(lambda: float(np.sum(A.softmax(z) * g)), z)
    # relative error, or an absolute one of 1e-9 (above the centred difference's rounding, about
    # 1e-11 here) when a saturated softmax makes every entry tiny
    vjp = A.softmax_vjp(y, g)
    assert rel_error(vjp, numeric) < 1e-7 or np.max(np.abs(vjp - numeric)) < 1e-9


def test_softmax_batch_jacobian_and_vjp_backends(xp):
    z = xp.asarray([[0.1, 0.2, 0.7], [3.0, -1.0, 0.0]])
    y = A.softmax(z)
    J = to_numpy(A.softmax_jacobian(y))
    assert J.shape == (2, 3, 3)
    g = xp.asarray([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]])
    expected = np.einsum("bij,bi->bj", J, to_numpy(g))
    assert to_numpy(A.softmax_vjp(y, g)) == pytest.approx(expected)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_rejects_integer_input(name):
    act = A.get_activation(name)
    with pytest.raises(ValueError, match=r"z must have a floating-point dtype .* got int64"):
        act.forward(np.arange(3))


def test_unknown_activation_name():
    with pytest.raises(ValueError, match=r"activation must be one of .*'relu'.* got 'rleu'"):
        A.get_activation("rleu")


def test_activation_rejects_unknown_keyword():
    with pytest.raises(ValueError, match=r"accepts keyword arguments \['alpha'\], got \['slope'\]"):
        A.get_activation("leaky_relu", slope=0.2)


def test_softmax_vjp_shape_mismatch():
    with pytest.raises(ValueError, match=r"g and y must have the same shape, got \(2, 4\) and \(2, 3\)"):
        A.softmax_vjp(np.full((2, 3), 1 / 3), np.zeros((2, 4)))


def test_sigmoid_derivative_keeps_precision_for_large_z():
    z = np.array([30.0, -30.0, 700.0])
    exact = np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))) ** 2
    assert A.sigmoid_derivative(z) == pytest.approx(exact, rel=1e-12)


def test_softmax_needs_at_least_one_class():
    with pytest.raises(ValueError, match=r"z must have at least one class along axis -1, got shape \(2, 0\)"):
        A.softmax(np.zeros((2, 0)))
    with pytest.raises(ValueError, match=r"axis must be a valid axis of z \(ndim 2\), got 2"):
        A.log_softmax(np.zeros((2, 3)), axis=2)
    assert A.softmax(np.zeros((0, 3))).shape == (0, 3)  # no examples: nothing to normalise


_junk = st.one_of(
    st.none(), st.text(max_size=3), st.floats(allow_nan=True), st.lists(st.floats(), max_size=3),
    st.builds(lambda shape: np.zeros(shape), st.lists(st.integers(0, 3), max_size=3)),
    st.builds(lambda shape: np.ones(shape, dtype=np.int64), st.lists(st.integers(0, 3), max_size=3)),
)


@given(st.sampled_from(sorted(A.ACTIVATIONS) + ["softmax", "log_softmax", "softmax_jacobian"]), _junk)
def test_random_bad_input_gives_a_named_value_or_type_error(name, z):
    if name in A.ACTIVATIONS:
        functions = [A.get_activation(name).forward, A.get_activation(name).derivative]
    else:
        functions = [getattr(A, name)]
    for fn in functions:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fn(z)
        except (ValueError, TypeError) as err:
            assert str(err).startswith(("z ", "y ", "axis ")), str(err)
