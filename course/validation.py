"""Input validation shared by the library: clear errors that name the argument, what was expected
and what was given, never a deep traceback from inside NumPy.

For example ``ValueError: W must have shape (4, 3) (n_out, n_in), got (3, 4)``.

Two kinds of argument, two rules:

* **Data** (X, y, y_hat, z, targets; whatever a user passes to a loss, to the network, to
  training or to ``rel_error``) goes through :func:`as_array` first, which converts array-likes
  (lists, tuples, nested lists, NumPy scalars, ``np.matrix``, pandas objects and anything else
  with ``__array__``) to a plain array. ``np.matrix`` becomes a plain 2-D ndarray (its ``*`` is a
  matrix product and its reductions keep two axes, which would break every formula here).
  Masked arrays are refused: converting them would silently use the masked values.
* **Arrays used in place or as building blocks** (parameters updated by ``sgd_step``, the ``x``
  that ``numerical_gradient`` perturbs, inputs of activations and layers) must already be arrays;
  :func:`check_float_array` refuses anything else with a ``TypeError`` that says how to convert.

Dtypes: where floats are needed (X, y_hat, z, regression targets) an integer array is refused with
a hint (``X.astype(float)``); integer labels are accepted wherever labels are expected, and 0/1
integer or boolean targets are converted for the binary losses. ``course.data`` converts its
inputs the same way. An empty batch (B = 0) is refused wherever a mean over the batch is taken.
"""
from __future__ import annotations

import numbers
import warnings

import array_api_compat
import numpy as np

from .backend import array_namespace, asarray, get_namespace


def _shape(x) -> tuple:
    return tuple(int(d) for d in x.shape)


def _type_name(x) -> str:
    kind = type(x)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _refuse_numpy_subclass(x, name: str) -> None:
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} must be a plain array, got a masked array: fill the masked entries first, "
            f"e.g. {name}.filled(0.0)"
        )


def as_array(x, name: str, xp=None):
    """Return the data argument ``x`` as an array (see the module docstring for the rules).

    Parameters
    ----------
    x : array of any supported namespace (returned unchanged), or an array-like: list, tuple,
        nested lists, scalar, ``np.matrix``, object with ``__array__`` (pandas).
    name : argument name used in error messages.
    xp : namespace that array-likes are converted to (default: ``course.backend.get_namespace()``).
        An array that already belongs to a namespace is never moved to another one.

    Raises
    ------
    TypeError
        For masked arrays and for anything that does not hold real numbers (``None``, strings,
        dicts, complex numbers).
    ValueError
        For ragged nested lists.
    """
    if type(x) is np.ndarray:  # the common case first
        return x
    if isinstance(x, np.ndarray):
        _refuse_numpy_subclass(x, name)
        return np.asarray(x)  # np.matrix and other subclasses -> plain ndarray
    if array_api_compat.is_array_api_obj(x) and not isinstance(x, np.generic):
        return x
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # NumPy's ragged-list warning becomes an error
            converted = np.asarray(x)
    except (ValueError, TypeError, Warning) as err:
        raise ValueError(
            f"{name} must be an array or a rectangular list of numbers, got a {_type_name(x)} that "
            f"NumPy cannot turn into one array ({err})"
        ) from err
    _refuse_numpy_subclass(converted, name)
    if converted.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got a {_type_name(x)} of dtype {converted.dtype}"
        )
    xp = get_namespace() if xp is None else xp
    return asarray(np.asarray(converted), xp)


def _check_is_array(x, name: str) -> None:
    if type(x) is np.ndarray:  # the common case first
        return
    if isinstance(x, np.matrix):
        raise TypeError(f"{name} must be a plain array, got numpy.matrix: convert it with np.asarray({name})")
    if isinstance(x, np.ndarray):
        _refuse_numpy_subclass(x, name)
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(
            f"{name} must be an array, got {_type_name(x)}: convert it with np.asarray({name}, dtype=float)"
        )


def check_nonempty(x, name: str) -> None:
    """Raise ``ValueError`` unless every axis of ``x`` has at least one entry.

    An empty batch (axis 0) is named as such: ``X must hold at least one example, got shape (0, 4)``.
    """
    shape = _shape(x)
    if shape and shape[0] == 0:
        raise ValueError(f"{name} must hold at least one example, got shape {shape}")
    if 0 in shape:
        raise ValueError(f"{name} must have at least one entry along every axis, got shape {shape}")


def check_float_array(x, name: str, *, ndim=None, finite: bool = True, nonempty: bool = False):
    """Check that ``x`` is a floating-point array (of rank ``ndim`` if given) and return its namespace.

    Parameters
    ----------
    x : array (not a list: data arguments are converted by :func:`as_array` first).
    name : argument name used in the error message.
    ndim : int or tuple of int, optional; allowed ranks.
    finite : if True, NaN or infinite entries raise ``ValueError``.
    nonempty : if True, an axis of length 0 (e.g. an empty batch) raises ``ValueError``.

    Raises
    ------
    TypeError
        ``x`` is not an array, or is an ``np.matrix`` or a masked array.
    ValueError
        Wrong dtype, rank, an empty axis or non-finite entries.
    """
    _check_is_array(x, name)
    xp = array_namespace(x)
    if not xp.isdtype(x.dtype, "real floating"):
        raise ValueError(
            f"{name} must have a floating-point dtype (float32 or float64), got {x.dtype}: "
            f"convert it with {name}.astype(float)"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            expected = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {expected} dimensions, got shape {_shape(x)}")
    if nonempty:
        check_nonempty(x, name)
    if finite and not all_finite(x, xp):
        raise ValueError(f"{name} contains NaN or infinite values")
    return xp


def all_finite(x, xp=None) -> bool:
    """True when no entry of ``x`` is NaN or infinite.

    One reduction instead of an elementwise mask: NaN and inf propagate through a sum, so a
    finite sum means every entry is finite; only a non-finite sum (which may also be an overflow
    of large finite entries) is checked entry by entry.
    """
    xp = array_namespace(x) if xp is None else xp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow or inf - inf in the sum
        if bool(xp.isfinite(xp.sum(x))):
            return True
    return bool(xp.all(xp.isfinite(x)))


def check_shape(x, name: str, expected: tuple, meaning: str = "") -> None:
    """Raise ``ValueError`` unless ``x.shape == expected``; ``meaning`` names the axes."""
    if _shape(x) != tuple(expected):
        axes = f" {meaning}" if meaning else ""
        raise ValueError(f"{name} must have shape {tuple(expected)}{axes}, got {_shape(x)}")


def check_same_shape(a, a_name: str, b, b_name: str) -> None:
    """Raise ``ValueError`` unless two arrays have the same shape."""
    if _shape(a) != _shape(b):
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape, got {_shape(a)} and {_shape(b)}"
        )


def check_batch(a, a_name: str, b, b_name: str) -> None:
    """Raise ``ValueError`` unless both arrays have the same batch size (axis 0)."""
    for x, name in ((a, a_name), (b, b_name)):
        _check_is_array(x, name)
        if x.ndim == 0:
            raise ValueError(f"{name} must have a batch axis (one entry per example), got a scalar of shape ()")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{a_name} and {b_name} must have the same batch size (axis 0), "
            f"got {a.shape[0]} and {b.shape[0]}"
        )


def check_labels(y, name: str, num_classes: int):
    """Check integer class labels of shape (B,) in ``[0, num_classes)``."""
    _check_is_array(y, name)
    xp = array_namespace(y)
    if not xp.isdtype(y.dtype, "integral"):
        raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"{name} must have shape (B,), got {_shape(y)}")
    if y.shape[0] and (int(xp.min(y)) < 0 or int(xp.max(y)) >= num_classes):
        raise ValueError(
            f"{name} must hold labels in [0, {num_classes - 1}], "
            f"got values from {int(xp.min(y))} to {int(xp.max(y))}"
        )
    return xp


def check_binary_targets(y, name: str):
    """Check that a float target array holds only 0 and 1."""
    xp = check_float_array(y, name)
    if not bool(xp.all((y == 0) | (y == 1))):
        raise ValueError(f"{name} must contain only 0 and 1 (binary labels)")
    return xp


def check_choice(value, name: str, choices) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def check_real(value, name: str, *, low=None, high=None) -> float:
    """Return ``value`` as a float, refusing non-numbers (``TypeError``), NaN, infinities and values
    outside ``[low, high]`` (``ValueError``). Booleans are refused: ``True`` is not a number here."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {_type_name(value)}")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and number < low) or (high is not None and number > high):
        interval = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return number
