"""Backend selection and conversion."""
import numpy as np
import pytest

from course import backend
from course.activations import relu


def test_default_is_numpy_and_env_selects(monkeypatch):
    monkeypatch.delenv("COURSE_BACKEND", raising=False)
    assert backend.namespace_name(backend.get_namespace()) == "numpy"
    monkeypatch.setenv("COURSE_BACKEND", "array_api_strict")
    assert backend.namespace_name(backend.get_namespace()) == "array_api_strict"


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match=r"backend must be one of \('numpy', 'cupy', 'array_api_strict'\), got 'jax'"):
        backend.get_namespace("jax")


def test_round_trip_through_every_available_backend(xp):
    a = np.arange(6.0).reshape(2, 3)
    on_backend = backend.asarray(a, xp)
    assert backend.to_numpy(relu(on_backend - 2.0)).tolist() == [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]
    assert backend.asarray([1, 2], xp, dtype="float32").dtype == xp.float32


def test_mixed_backends_are_reported():
    import array_api_strict

    with pytest.raises(ValueError, match="expected arrays from one array library"):
        backend.array_namespace(np.zeros(2), array_api_strict.zeros(2))


def test_cupy_missing_gives_install_hint():
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match=r"pip install 'fnn-course\[gpu\]'"):
            backend.get_namespace("cupy")
    else:
        pytest.skip("CuPy is installed: the missing-CuPy message cannot be shown here")


def test_all_finite_sees_nan_inf_and_survives_overflowing_sums(xp):
    from course.validation import all_finite

    big = xp.full((4,), 3.0e38, dtype=xp.float32)  # finite entries whose sum overflows float32
    assert all_finite(big)
    assert all_finite(xp.zeros((2, 3), dtype=xp.float64))
    assert not all_finite(xp.asarray([1.0, float("nan")]))
    assert not all_finite(xp.asarray([float("inf"), float("-inf")]))
