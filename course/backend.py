"""Array namespaces: NumPy by default, CuPy on a GPU, any Array-API library in tests.

Every public function of the library starts with ``xp = array_namespace(x)`` and then uses only
Array-API operations, so the same code runs on NumPy, CuPy and ``array_api_strict``.
The default namespace for new arrays comes from the ``COURSE_BACKEND`` environment variable
(``numpy``, ``cupy`` or ``array_api_strict``) and is ``numpy`` when unset.
"""
from __future__ import annotations

import importlib
import os

import array_api_compat
import numpy as np

BACKENDS = ("numpy", "cupy", "array_api_strict")


def array_namespace(*arrays):
    """Return the Array-API namespace shared by ``arrays``.

    Raises ``ValueError`` when the arrays come from different libraries (for example a NumPy
    array mixed with a CuPy array), naming both.
    """
    try:
        return array_api_compat.array_namespace(*arrays)
    except TypeError as err:
        kinds = ", ".join(sorted({type(a).__module__ + "." + type(a).__name__ for a in arrays}))
        raise ValueError(
            f"expected arrays from one array library, got {kinds}: convert them with "
            f"course.backend.to_numpy() or xp.asarray() first"
        ) from err


def get_namespace(name: str | None = None):
    """Return the namespace called ``name`` (default: ``$COURSE_BACKEND`` or ``numpy``).

    ``numpy`` and ``cupy`` are wrapped by array-api-compat so they follow the standard exactly.
    """
    if name is None:
        name = os.environ.get("COURSE_BACKEND", "numpy")
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if name == "numpy":
        return array_api_compat.array_namespace(np.empty(0))
    if name == "cupy":
        try:
            cupy = importlib.import_module("cupy")
        except ImportError as err:
            raise ValueError(
                "backend 'cupy' needs CuPy and a CUDA GPU: pip install 'fnn-course[gpu]'"
            ) from err
        return array_api_compat.array_namespace(cupy.empty(0))
    return importlib.import_module("array_api_strict")


def namespace_name(xp) -> str:
    """Short name of a namespace: 'numpy', 'cupy' or 'array_api_strict'."""
    name = xp.__name__
    for backend in BACKENDS:
        if backend in name:
            return backend
    return name


def to_numpy(x) -> np.ndarray:
    """Bring an array from any backend back to a NumPy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    try:
        return np.asarray(x)
    except (TypeError, ValueError, RuntimeError):
        return np.from_dlpack(x)


def asarray(x, xp=None, dtype=None):
    """Convert ``x`` (NumPy array, list, scalar) to an array of namespace ``xp``.

    ``dtype`` may be a dtype object or a name such as ``"float32"``.
    """
    xp = get_namespace() if xp is None else xp
    if isinstance(dtype, str):
        dtype = getattr(xp, dtype)
    if namespace_name(xp) == "array_api_strict" and isinstance(x, np.ndarray):
        return xp.asarray(x.tolist() if x.ndim == 0 else x, dtype=dtype)
    return xp.asarray(x, dtype=dtype)
