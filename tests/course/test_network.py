"""MLP: the deck-000 network, both backprops, gradient checks, bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course.backend import to_numpy
from course.gradcheck import check_model_gradients
from course.network import MLP


def _max_abs_diff(grads_a, grads_b):
    return max(float(np.max(np.abs(to_numpy(a[k]) - to_numpy(b[k])))) for a, b in zip(grads_a, grads_b) for k in ("W", "b"))


def test_deck_000_parameter_counts():
    N, K, J = 64, 16, 8
    model = MLP([N, K, J, 1], output="sigmoid")
    assert model.parameter_counts() == [(N + 1) * K, (K + 1) * J, J + 1]
    assert model.num_parameters() == (N + 1) * K + (K + 1) * J + J + 1
    assert [tuple(p["W"].shape) for p in model.params] == [(K, N), (J, K), (1, J)]


@pytest.mark.parametrize("output, sizes", [("softmax", [6, 5, 4, 3]), ("sigmoid", [6, 5, 4, 1]), ("identity", [6, 5, 2])])
def test_per_example_and_vectorized_backprop_agree(output, sizes, xp, backend):
    rng = np.random.default_rng(7)
    model = MLP(sizes, output=output, rng=rng, backend=backend)
    X = xp.asarray(rng.standard_normal((9, sizes[0])))
    if output == "softmax":
        y = xp.asarray(rng.integers(0, sizes[-1], 9))
    elif output == "sigmoid":
        y = xp.asarray((rng.random(9) > 0.5).astype(float))
    else:
        y = xp.asarray(rng.standard_normal((9, sizes[-1])))
    loss_vec, grads_vec = model.backward(X, y)
    loss_loop, grads_loop = model.backward_per_example(X, y)
    assert loss_vec == pytest.approx(loss_loop, abs=1e-12)
    assert _max_abs_diff(grads_vec, grads_loop) < 1e-12


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.lists(st.integers(1, 5), min_size=1, max_size=3),
       st.sampled_from(["softmax", "sigmoid", "identity"]))
def test_backprop_matches_centred_differences(seed, batch, hidden, output):
    rng = np.random.default_rng(seed)
    n_out = 1 if output == "sigmoid" else 3
    model = MLP([4, *hidden, n_out], hidden_activation="tanh", output=output, rng=rng)
    X = rng.standard_normal((batch, 4))
    if output == "softmax":
        y = rng.integers(0, n_out, batch)
    elif output == "sigmoid":
        y = (rng.random(batch) > 0.5).astype(float)
    else:
        y = rng.standard_normal((batch, n_out))
    errors = check_model_gradients(model, X, y)
    assert max(errors.values()) < 1e-7, errors
    _, grads_vec = model.backward(X, y)
    _, grads_loop = model.backward_per_example(X, y)
    assert _max_abs_diff(grads_vec, grads_loop) < 1e-12


def test_relu_network_gradient_check():
    rng = np.random.default_rng(11)
    model = MLP([5, 7, 6, 4], hidden_activation="relu", rng=rng)
    X = rng.standard_normal((8, 5))
    y = rng.integers(0, 4, 8)
    errors = check_model_gradients(model, X, y)
    assert max(errors.values()) < 1e-7, errors


def test_relu_kink_uses_the_chosen_subgradient():
    """With every hidden pre-activation exactly 0, the gradient of W1 flows only through the
    subgradient: 0 blocks it, 1 passes it."""
    X = np.zeros((3, 2))  # with zero biases every hidden pre-activation is exactly 0
    y = np.array([0, 1, 1])
    grads = {}
    for s in (0.0, 1.0):
        model = MLP([2, 3, 2], activation_kwargs={"subgradient_at_zero": s}, rng=np.random.default_rng(0))
        _, g = model.backward(X, y)
        grads[s] = g
    assert np.all(grads[0.0][0]["b"] == 0.0)
    assert np.any(grads[1.0][0]["b"] != 0.0)


def test_forward_shapes_and_predictions(xp, backend):
    X = xp.asarray(np.random.default_rng(0).standard_normal((5, 4)))
    soft = MLP([4, 3, 3], backend=backend)
    assert tuple(soft.forward(X).shape) == (5, 3)
    assert to_numpy(xp.sum(soft.forward(X), axis=1)) == pytest.approx(np.ones(5))
    sig = MLP([4, 3, 1], output="sigmoid", backend=backend)
    assert tuple(sig.forward(X).shape) == (5,)
    assert set(to_numpy(sig.predict(X)).tolist()) <= {0, 1}
    assert 0.0 <= soft.accuracy(X, xp.asarray([0, 1, 2, 0, 1])) <= 1.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: MLP([4]), r"layer_sizes must list at least 2 positive integers"),
        (lambda: MLP([4, 0, 2]), r"layer_sizes must list at least 2 positive integers"),
        (lambda: MLP([4, 2], output="softplus"), r"output must be one of .* got 'softplus'"),
        (lambda: MLP([4, 2], output="sigmoid"), r"output='sigmoid' needs 1 output unit, got layer_sizes\[-1\] = 2"),
        (lambda: MLP([4, 2], hidden_activation="swish"), r"activation must be one of .* got 'swish'"),
        (lambda: MLP([4, 2], dtype="float16"), r"dtype must be one of .* got 'float16'"),
        (lambda: MLP([4, 2]).forward(np.zeros((3, 5))), r"X must have shape \(B, 4\) \(one example per row\), got \(3, 5\)"),
        (lambda: MLP([4, 2]).backward(np.zeros((3, 4)), np.array([0, 1])), r"X and y must have the same batch size .* got 3 and 2"),
        (lambda: MLP([4, 2]).backward(np.zeros((2, 4)), np.array([0, 2])), r"y must hold labels in \[0, 1\], got values from 0 to 2"),
        (lambda: MLP([4, 2]).backward(np.zeros((2, 4), dtype=np.int64), np.array([0, 1])), r"X must have a floating-point dtype"),
        (lambda: MLP([4, 2]).backward(np.full((2, 4), np.inf), np.array([0, 1])), r"X contains NaN or infinite values"),
        (lambda: MLP([4, 1], output="sigmoid").backward(np.zeros((2, 4)), np.array([0.0, 0.5])), r"y must contain only 0 and 1"),
    ],
)
def test_bad_input_gives_actionable_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_float32_model_keeps_float32():
    model = MLP([4, 3, 2], dtype="float32")
    X = np.random.default_rng(0).standard_normal((3, 4))  # float64 input is converted
    _, grads = model.backward(X, np.array([0, 1, 1]))
    assert all(g["W"].dtype == np.float32 and g["b"].dtype == np.float32 for g in grads)
