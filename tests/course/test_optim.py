"""Training: SGD step, mini-batches, fit history, and the seeded digits runs."""
import numpy as np
import pytest

from course.backend import to_numpy
from course.data import load_digits, standardize, train_test_split, two_vs_rest
from course.network import MLP
from course.optim import fit, iterate_minibatches, sgd_step


def test_sgd_step_updates_in_place(xp):
    params = [{"W": xp.asarray([[1.0, 2.0]]), "b": xp.asarray([0.5])}]
    grads = [{"W": xp.asarray([[0.5, -1.0]]), "b": xp.asarray([1.0])}]
    sgd_step(params, grads, lr=0.1)
    assert to_numpy(params[0]["W"]) == pytest.approx(np.array([[0.95, 2.1]]))
    assert to_numpy(params[0]["b"]) == pytest.approx(np.array([0.4]))


def test_minibatches_cover_every_example_once(xp):
    X = xp.reshape(xp.arange(10, dtype=xp.float64), (10, 1))
    y = xp.arange(10)
    seen = []
    for Xb, yb in iterate_minibatches(X, y, 4, np.random.default_rng(0)):
        assert to_numpy(Xb)[:, 0].tolist() == to_numpy(yb).tolist()
        seen += to_numpy(yb).tolist()
    assert sorted(seen) == list(range(10)) and len(seen) == 10


def test_fit_records_history_and_lowers_the_loss(xp, backend):
    rng = np.random.default_rng(0)
    X_np = rng.standard_normal((60, 3))
    y_np = (X_np[:, 0] + X_np[:, 1] > 0).astype(np.int64)
    model = MLP([3, 8, 2], rng=rng, backend=backend)
    calls = []
    history = fit(model, xp.asarray(X_np), xp.asarray(y_np), epochs=15, lr=0.5, batch_size=16,
                  X_val=xp.asarray(X_np), y_val=xp.asarray(y_np), progress=False,
                  callback=lambda epoch, h: calls.append(epoch))
    assert history.epochs == list(range(1, 16)) and calls == history.epochs
    assert len(history.loss) == len(history.accuracy) == len(history.val_accuracy) == 15
    assert history.loss[-1] < history.loss[0] * 0.5
    assert history.accuracy[-1] >= 0.9


def test_callback_can_stop_training():
    X = np.random.default_rng(0).standard_normal((10, 2))
    history = fit(MLP([2, 2]), X, np.zeros(10, dtype=np.int64), epochs=50, lr=0.1, progress=False,
                  callback=lambda epoch, h: epoch == 3)
    assert history.epochs == [1, 2, 3]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0, "lr": 0.1}, r"epochs must be a positive integer, got 0"),
        ({"epochs": 1, "lr": -1.0}, r"lr must be a positive finite number, got -1.0"),
        ({"epochs": 1, "lr": 0.1, "batch_size": 0}, r"batch_size must be a positive integer or None"),
        ({"epochs": 1, "lr": 0.1, "X_val": np.zeros((2, 2))}, r"X_val and y_val must be given together"),
    ],
)
def test_fit_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(MLP([2, 2]), np.zeros((4, 2)), np.zeros(4, dtype=np.int64), progress=False, **kwargs)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_divergence_is_reported_with_a_hint():
    X = np.random.default_rng(0).standard_normal((20, 2)) * 100
    with pytest.raises(ValueError, match=r"training diverged at epoch \d+: lower lr \(now 1000000.0\)"):
        fit(MLP([2, 50, 2], hidden_activation="relu"), X, np.arange(20) % 2, epochs=50, lr=1e6, progress=False)


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.25, seed=0)
    X_train, X_test = standardize(X_train, X_test)
    return X_train, X_test, y_train, y_test


def test_two_vs_not_two_network_reaches_97_percent(digits_split):
    """Deck 000: two ReLU hidden layers, a sigmoid output, binary cross-entropy."""
    X_train, X_test, y_train, y_test = digits_split
    v_train, v_test = two_vs_rest(y_train), two_vs_rest(y_test)
    model = MLP([64, 32, 16, 1], hidden_activation="relu", output="sigmoid", rng=np.random.default_rng(0))
    fit(model, X_train, v_train, epochs=30, lr=0.1, batch_size=32, rng=np.random.default_rng(1), progress=False)
    assert model.accuracy(X_test, v_test) >= 0.97


def test_ten_class_softmax_network_reaches_97_percent(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    model = MLP([64, 256, 128, 10], hidden_activation="relu", output="softmax", rng=np.random.default_rng(1))
    fit(model, X_train, y_train, epochs=40, lr=0.05, batch_size=32, rng=np.random.default_rng(1), progress=False)
    assert model.accuracy(X_test, y_test) >= 0.97


# ----------------------------------------------------------------------------- library edges
@pytest.mark.parametrize("batch_size", [None, 2])
def test_an_empty_training_set_is_refused(batch_size):
    with pytest.raises(ValueError, match=r"X must hold at least one example, got shape \(0, 2\)"):
        fit(MLP([2, 2]), np.zeros((0, 2)), np.zeros(0, dtype=np.int64), epochs=1, lr=0.1,
            batch_size=batch_size, progress=False)
    with pytest.raises(ValueError, match=r"X must hold at least one example, got shape \(0, 2\)"):
        list(iterate_minibatches(np.zeros((0, 2)), np.zeros(0), 2, np.random.default_rng(0)))
    with pytest.raises(ValueError, match=r"X_val must hold at least one example, got shape \(0, 2\)"):
        fit(MLP([2, 2]), np.zeros((3, 2)), np.zeros(3, dtype=np.int64), epochs=1, lr=0.1,
            X_val=np.zeros((0, 2)), y_val=np.zeros(0, dtype=np.int64), progress=False)


def test_fit_accepts_lists_like_arrays():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    y = (X[:, 0] > 0).astype(np.int64)
    from_arrays = MLP([2, 3, 2], rng=np.random.default_rng(1))
    from_lists = MLP([2, 3, 2], rng=np.random.default_rng(1))
    h_arrays = fit(from_arrays, X, y, epochs=3, lr=0.1, batch_size=5, progress=False)
    h_lists = fit(from_lists, X.tolist(), y.tolist(), epochs=3, lr=0.1, batch_size=5, progress=False)
    assert h_lists.loss == h_arrays.loss
    batches = list(iterate_minibatches(X.tolist(), y.tolist(), 5, np.random.default_rng(0)))
    assert [tuple(Xb.shape) for Xb, _ in batches] == [(5, 2), (5, 2), (2, 2)]


def test_sgd_step_accepts_array_like_gradients_and_leaves_them_alone():
    params = [{"W": np.array([[1.0, 2.0]]), "b": np.array([0.5])}]
    grads = [{"W": [[0.5, -1.0]], "b": [1]}]
    sgd_step(params, grads, lr=0.1)
    assert params[0]["W"] == pytest.approx(np.array([[0.95, 2.1]])) and params[0]["b"] == pytest.approx([0.4])
    assert grads == [{"W": [[0.5, -1.0]], "b": [1]}]


@pytest.mark.parametrize(
    "params, grads, lr, error, message",
    [
        ([{"W": np.zeros((1, 2))}], [{"b": np.zeros(1)}], 0.1, ValueError, r"grads\[0\] must be a dict with keys \['W'\], got \['b'\]"),
        ([{"W": np.zeros((1, 2))}], [np.zeros((1, 2))], 0.1, ValueError, r"grads\[0\] must be a dict with keys \['W'\], got ndarray"),
        ([{"W": np.zeros((1, 2))}], [{"W": "abc"}], 0.1, TypeError, r"grads\[0\]\['W'\] must hold real numbers"),
        ([{"W": np.zeros((1, 2))}], [{"W": [1.0, 2.0]}], 0.1, ValueError, r"grads\[0\]\['W'\] must have shape \(1, 2\), got \(2,\)"),
        ([{"W": [[0.0, 0.0]]}], [{"W": np.zeros((1, 2))}], 0.1, TypeError, r"params\[0\]\['W'\] must be an array, got list"),
        ([{"W": np.zeros((1, 2))}], [{"W": np.zeros((1, 2))}], True, ValueError, r"lr must be a positive finite number, got True"),
        ([{"W": np.zeros((1, 2))}], [], 0.1, ValueError, r"grads must have one entry per layer \(1\), got 0"),
    ],
)
def test_sgd_step_bad_input(params, grads, lr, error, message):
    with pytest.raises(error, match=message):
        sgd_step(params, grads, lr)
