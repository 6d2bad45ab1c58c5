"""MLP: the deck-000 network, both backprops, gradient checks, bad input."""
import warnings

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
        (lambda: MLP(5), r"layer_sizes must list at least 2 positive integers .* got 5"),
        (lambda: MLP([4, True]), r"layer_sizes must list at least 2 positive integers .* got \[4, True\]"),
        (lambda: MLP([4, 2.0]), r"layer_sizes must list at least 2 positive integers"),
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


# ----------------------------------------------------------------------------- library edges
def _matrix(rows):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(rows)


_METHODS = {
    "forward": lambda m, X, y: m.forward(X),
    "predict": lambda m, X, y: m.predict(X),
    "loss": lambda m, X, y: m.loss(X, y),
    "backward": lambda m, X, y: m.backward(X, y),
    "backward_per_example": lambda m, X, y: m.backward_per_example(X, y),
    "accuracy": lambda m, X, y: m.accuracy(X, y),
}


@pytest.mark.parametrize("method, output", [
    (method, output) for output in ("softmax", "sigmoid", "identity") for method in sorted(_METHODS)
    if output != "identity" or method not in ("predict", "accuracy")  # classification only
])
def test_an_empty_batch_is_refused_everywhere(method, output):
    n_out = 1 if output == "sigmoid" else 3
    model = MLP([4, 3, n_out], output=output)
    y = np.zeros((0, n_out)) if output == "identity" else np.zeros(0, dtype=np.int64)
    with pytest.raises(ValueError, match=r"X must hold at least one example, got shape \(0, 4\)"):
        _METHODS[method](model, np.zeros((0, 4)), y)


@pytest.mark.parametrize("output, sizes", [("softmax", [4, 5, 3]), ("sigmoid", [4, 5, 1]), ("identity", [4, 5, 2])])
def test_array_likes_give_the_same_results_as_arrays(output, sizes):
    rng = np.random.default_rng(3)
    model = MLP(sizes, output=output, rng=rng, hidden_activation="tanh")
    X = rng.standard_normal((6, 4))
    if output == "softmax":
        y = rng.integers(0, 3, 6)
    elif output == "sigmoid":
        y = (rng.random(6) > 0.5).astype(float)
    else:
        y = rng.standard_normal((6, 2))
    loss, grads = model.backward(X, y)
    variants = [(X.tolist(), y.tolist()), (_matrix(X), tuple(y.tolist())), (_matrix(X), _matrix(y) if y.ndim == 2 else y)]
    for X_like, y_like in variants:
        loss_like, grads_like = model.backward(X_like, y_like)
        assert loss_like == loss and _max_abs_diff(grads_like, grads) == 0.0
        assert model.loss(X_like, y_like) == loss
        assert type(model.forward(X_like)) is np.ndarray  # a plain array, never np.matrix
        if output != "identity":
            assert model.accuracy(X_like, y_like) == model.accuracy(X, y)
        _, grads_loop = model.backward_per_example(X_like, y_like)
        assert _max_abs_diff(grads_loop, grads) < 1e-12


def test_pandas_inputs_are_converted():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 4))
    y = np.array([0, 1, 2, 1, 0])
    model = MLP([4, 3], rng=rng)
    assert model.loss(pd.DataFrame(X), pd.Series(y)) == model.loss(X, y)


def test_a_matrix_row_of_labels_is_refused_by_shape():
    with pytest.raises(ValueError, match=r"X and y must have the same batch size .* got 3 and 1"):
        MLP([4, 3]).backward(np.zeros((3, 4)), _matrix([[0, 1, 2]]))


@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.floats(0.1, 3.0))
def test_soft_labels_train_with_the_gradient_of_the_returned_loss(seed, batch, temperature):
    rng = np.random.default_rng(seed)
    model = MLP([4, 5, 3], hidden_activation="tanh", rng=rng)
    X = rng.standard_normal((batch, 4))
    soft = np.exp(rng.standard_normal((batch, 3)) / temperature)
    soft /= soft.sum(axis=1, keepdims=True)
    errors = check_model_gradients(model, X, soft)
    assert max(errors.values()) < 1e-7, errors
    _, grads_vec = model.backward(X, soft)
    _, grads_loop = model.backward_per_example(X, soft)
    assert _max_abs_diff(grads_vec, grads_loop) < 1e-12
    assert 0.0 <= model.accuracy(X, soft) <= 1.0


def test_soft_label_rows_that_do_not_sum_to_one_are_refused():
    with pytest.raises(ValueError, match=r"y must hold class probabilities: every row must sum to 1 .* row 1 summing to 0.6"):
        MLP([4, 3]).backward(np.zeros((2, 4)), np.array([[0.0, 1.0, 0.0], [0.3, 0.3, 0.0]]))


def test_accuracy_checks_targets_like_the_loss():
    model = MLP([4, 3])
    X = np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"y must be integer class labels of shape \(B,\) or one-hot rows"):
        model.accuracy(X, np.array([0.5, 1.2]))  # fractional labels were silently truncated
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 2\], got values from 0 to 7"):
        model.accuracy(X, [0, 7])
    with pytest.raises(ValueError, match=r"y must contain only 0 and 1"):
        MLP([4, 1], output="sigmoid").accuracy(X, [0.0, 0.5])


def test_softmax_with_one_output_unit_is_refused_with_a_hint():
    with pytest.raises(ValueError, match=r"output='softmax' needs at least 2 output units, got layer_sizes\[-1\] = 1: .*use output='sigmoid'"):
        MLP([4, 3, 1])


@pytest.mark.parametrize("bad, error", [(2, ValueError), (-0.5, ValueError), (float("nan"), ValueError), ("0", TypeError)])
def test_bad_subgradient_is_refused_when_the_model_is_built(bad, error):
    with pytest.raises(error, match=r"subgradient_at_zero must be"):
        MLP([2, 3, 2], activation_kwargs={"subgradient_at_zero": bad})


def test_per_example_backprop_does_not_use_the_vectorized_code(monkeypatch):
    """backward_per_example is an independent implementation: it still works, with the same
    result, when the vectorized backward and the batch affine backward are unavailable."""
    rng = np.random.default_rng(5)
    model = MLP([5, 4, 3, 3], hidden_activation="sigmoid", rng=rng)
    X = rng.standard_normal((7, 5))
    y = rng.integers(0, 3, 7)
    loss_vec, grads_vec = model.backward(X, y)

    def unavailable(*args, **kwargs):
        raise AssertionError("the per-example backprop called the vectorized code")

    monkeypatch.setattr(model, "backward", unavailable)
    monkeypatch.setattr(model, "forward_with_cache", unavailable)
    monkeypatch.setattr("course.network.affine_backward", unavailable)
    monkeypatch.setattr("course.network.affine", unavailable)
    loss_loop, grads_loop = model.backward_per_example(X, y)
    assert loss_loop == pytest.approx(loss_vec, abs=1e-12)
    assert _max_abs_diff(grads_loop, grads_vec) < 1e-12


def test_per_example_backprop_of_one_example_by_hand():
    """One example through a 2-1 tanh network and an identity output, computed by hand."""
    model = MLP([2, 1, 1], hidden_activation="tanh", output="identity")
    model.params[0]["W"][...] = [[0.5, -1.0]]
    model.params[0]["b"][...] = [0.1]
    model.params[1]["W"][...] = [[2.0]]
    model.params[1]["b"][...] = [-0.3]
    x, target = np.array([1.0, 2.0]), 0.4
    z1 = 0.5 * 1.0 - 1.0 * 2.0 + 0.1
    a1 = np.tanh(z1)
    z2 = 2.0 * a1 - 0.3
    delta2 = 2 * (z2 - target)
    delta1 = (1 - a1**2) * 2.0 * delta2
    loss, grads = model.backward_per_example(x[None, :], np.array([[target]]))
    assert loss == pytest.approx((z2 - target) ** 2, rel=1e-14)
    assert grads[1]["W"][0, 0] == pytest.approx(delta2 * a1, rel=1e-14)
    assert grads[1]["b"][0] == pytest.approx(delta2, rel=1e-14)
    assert grads[0]["W"] == pytest.approx(delta1 * x[None, :], rel=1e-14)
    assert grads[0]["b"][0] == pytest.approx(delta1, rel=1e-14)


def test_default_initialisation_is_lecun_or_he():
    """The defaults draw N(0, 1/n_in) (LeCun) for sigmoid/tanh and N(0, 2/n_in) (He) for ReLU,
    exactly as rng.standard_normal times the scale."""
    for activation, factor in (("tanh", 1.0), ("sigmoid", 1.0), ("relu", 2.0), ("selu", 2.0)):
        model = MLP([6, 4, 3], hidden_activation=activation, rng=np.random.default_rng(9))
        rng = np.random.default_rng(9)
        expected_W1 = rng.standard_normal((4, 6)) * np.sqrt(factor / 6)
        expected_W2 = rng.standard_normal((3, 4)) * np.sqrt(factor / 4)
        assert np.array_equal(model.params[0]["W"], expected_W1)
        assert np.array_equal(model.params[1]["W"], expected_W2)
    glorot = MLP([6, 4, 3], hidden_activation="tanh", init="glorot", rng=np.random.default_rng(9))
    assert np.array_equal(glorot.params[0]["W"], np.random.default_rng(9).standard_normal((4, 6)) * np.sqrt(2 / 10))
    with pytest.raises(ValueError, match=r"init 'xavier' is ambiguous: use 'glorot' .* or 'lecun'"):
        MLP([6, 4, 3], init="xavier")


_junk = st.one_of(
    st.none(), st.text(max_size=3), st.floats(allow_nan=True), st.integers(-5, 5),
    st.lists(st.one_of(st.floats(allow_nan=True), st.integers(-3, 3)), max_size=4),
    st.lists(st.lists(st.floats(-10, 10), max_size=4), max_size=3),
    st.builds(lambda shape: np.zeros(shape), st.lists(st.integers(0, 4), max_size=3)),
    st.builds(lambda shape: np.ones(shape, dtype=np.int64), st.lists(st.integers(0, 4), max_size=3)),
    st.builds(lambda shape: _matrix(np.ones(shape)), st.tuples(st.integers(0, 3), st.integers(0, 4))),
)


@given(st.sampled_from(sorted(_METHODS)), st.sampled_from(["softmax", "sigmoid"]), _junk, _junk)
def test_random_bad_input_gives_a_named_value_or_type_error(method, output, X, y):
    model = MLP([4, 3, 1 if output == "sigmoid" else 3], output=output)
    try:
        _METHODS[method](model, X, y)
    except (ValueError, TypeError) as err:
        assert str(err).startswith(("X ", "y ", "z ")), str(err)
