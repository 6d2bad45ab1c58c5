"""Input validation shared by the library: clear ``ValueError`` messages, never a deep traceback.

Each helper names the argument, what was expected and what was given, for example
``ValueError: W must have shape (4, 3) (n_out, n_in), got (3, 4)``.
"""
from __future__ import annotations

import warnings

from .backend import array_namespace


def _shape(x) -> tuple:
    return tuple(int(d) for d in x.shape)


def check_float_array(x, name: str, *, ndim=None, finite: bool = True):
    """Check that ``x`` is a floating-point array (of rank ``ndim`` if given) and return its namespace.

    Parameters
    ----------
    x : array
    name : argument name used in the error message.
    ndim : int or tuple of int, optional; allowed ranks.
    finite : if True, NaN or infinite entries raise ``ValueError``.
    """
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise ValueError(f"{name} must be an array, got {type(x).__name__}")
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
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{a_name} and {b_name} must have the same batch size (axis 0), "
            f"got {a.shape[0]} and {b.shape[0]}"
        )


def check_labels(y, name: str, num_classes: int):
    """Check integer class labels of shape (B,) in ``[0, num_classes)``."""
    if not hasattr(y, "dtype"):
        raise ValueError(f"{name} must be an array of integer labels, got {type(y).__name__}")
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
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
