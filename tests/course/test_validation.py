"""Shared input validation: array-likes converted or refused, empty axes, numbers in a range."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course.backend import get_namespace, to_numpy
from course.validation import as_array, check_float_array, check_nonempty, check_real


def matrix(rows):
    """An np.matrix, built without NumPy's warning that the class is not recommended."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(rows)


class ArrayWrapper:
    """A pandas-like object: not an array, but convertible through ``__array__``."""

    def __init__(self, values):
        self._values = np.asarray(values)

    def __array__(self, dtype=None, copy=None):
        return self._values if dtype is None else self._values.astype(dtype)


@pytest.mark.parametrize(
    "value, expected",
    [
        ([[1.0, 2.0], [3.0, 4.0]], np.array([[1.0, 2.0], [3.0, 4.0]])),
        (((1.0, 2.0), (3.0, 4.0)), np.array([[1.0, 2.0], [3.0, 4.0]])),
        ([0, 1, 2], np.array([0, 1, 2])),
        (matrix([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])),
        (ArrayWrapper([[1.0], [2.0]]), np.array([[1.0], [2.0]])),
        (np.float64(2.5), np.array(2.5)),
        (3, np.array(3)),
    ],
)
def test_array_likes_become_plain_arrays(value, expected):
    converted = as_array(value, "X")
    assert type(converted) is np.ndarray  # never np.matrix: its * and reductions break formulas
    assert converted.shape == expected.shape and converted.dtype.kind == expected.dtype.kind
    assert converted.tolist() == expected.tolist()


def test_pandas_objects_are_converted():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert as_array(frame, "X").tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert as_array(pd.Series([0, 1, 1]), "y").tolist() == [0, 1, 1]


def test_arrays_pass_through_unchanged(xp):
    x = xp.asarray([[1.0, 2.0]])
    assert as_array(x, "X") is x
    plain = np.zeros(3)
    assert as_array(plain, "X") is plain


def test_array_likes_go_to_the_requested_namespace(xp):
    converted = as_array([[1.0, 2.0]], "X", xp)
    assert type(converted) is type(xp.asarray([1.0]))
    assert to_numpy(converted).tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize(
    "value, error, message",
    [
        (np.ma.masked_array([1.0, 2.0], mask=[0, 1]), TypeError, r"X must be a plain array, got a masked array: .*X.filled"),
        ([[1.0, 2.0], [3.0]], ValueError, r"X must be an array or a rectangular list of numbers, got a list"),
        (None, TypeError, r"X must hold real numbers, got a NoneType of dtype object"),
        ("abc", TypeError, r"X must hold real numbers, got a str of dtype <U3"),
        ({"a": 1}, TypeError, r"X must hold real numbers, got a dict"),
        ([1 + 2j], TypeError, r"X must hold real numbers, got a list of dtype complex128"),
        ([object()], TypeError, r"X must hold real numbers"),
    ],
)
def test_unconvertible_values_are_refused_by_name(value, error, message):
    with pytest.raises(error, match=message):
        as_array(value, "X")


@pytest.mark.parametrize(
    "value, message",
    [
        ([1.0, 2.0], r"z must be an array, got list: convert it with np.asarray\(z, dtype=float\)"),
        (matrix([[1.0]]), r"z must be a plain array, got numpy.matrix: convert it with np.asarray\(z\)"),
        (np.ma.masked_array([1.0]), r"z must be a plain array, got a masked array"),
    ],
)
def test_building_blocks_refuse_non_arrays_clearly(value, message):
    with pytest.raises(TypeError, match=message):
        check_float_array(value, "z")


@given(st.lists(st.integers(0, 3), min_size=1, max_size=4))
def test_empty_axes_are_named(shape):
    x = np.zeros(shape)
    if shape[0] == 0:
        with pytest.raises(ValueError, match=rf"X must hold at least one example, got shape {tuple(shape)}".replace("(", r"\(").replace(")", r"\)")):
            check_nonempty(x, "X")
    elif 0 in shape:
        with pytest.raises(ValueError, match=r"X must have at least one entry along every axis"):
            check_nonempty(x, "X")
    else:
        check_nonempty(x, "X")


@given(st.lists(st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3), min_size=1, max_size=5))
def test_nested_lists_convert_like_numpy(rows):
    converted = as_array(rows, "X", get_namespace("numpy"))
    assert converted.shape == (len(rows), 3)
    assert converted.tolist() == np.asarray(rows).tolist()


@pytest.mark.parametrize(
    "value, error, message",
    [
        (2, ValueError, r"s must be a number in \[0.0, 1.0\], got 2"),
        (-0.5, ValueError, r"s must be a number in \[0.0, 1.0\], got -0.5"),
        (float("nan"), ValueError, r"s must be a finite number, got nan"),
        (float("inf"), ValueError, r"s must be a finite number, got inf"),
        (True, TypeError, r"s must be a real number, got True of type bool"),
        ("0.5", TypeError, r"s must be a real number, got '0.5' of type str"),
        (None, TypeError, r"s must be a real number, got None"),
    ],
)
def test_check_real_refuses_by_name(value, error, message):
    with pytest.raises(error, match=message):
        check_real(value, "s", low=0.0, high=1.0)


def test_check_real_accepts_numpy_numbers():
    assert check_real(np.float32(0.5), "s", low=0.0, high=1.0) == 0.5
    assert check_real(np.int64(1), "s", low=0.0, high=1.0) == 1.0
