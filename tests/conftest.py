"""Shared fixtures: array namespaces (NumPy, array_api_strict, CuPy when a GPU is present) and
deterministic hypothesis settings."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from course.backend import get_namespace

settings.register_profile(
    "course",
    derandomize=True,
    deadline=None,
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "40")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("course")


def _cupy_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver or no device
        return False


BACKEND_PARAMS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("array_api_strict", id="array_api_strict"),
    pytest.param(
        "cupy",
        id="cupy",
        marks=[pytest.mark.gpu, pytest.mark.skipif(not _cupy_available(), reason="needs CuPy and a CUDA GPU")],
    ),
]


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request) -> str:
    """Name of the array backend under test."""
    return request.param


@pytest.fixture
def xp(backend):
    """The array namespace under test."""
    return get_namespace(backend)


@pytest.fixture
def to_xp(xp):
    """Convert NumPy arrays (or nested dict/list structures of them) to the backend under test."""

    def convert(value):
        if isinstance(value, np.ndarray):
            return xp.asarray(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(convert(v) for v in value)
        return value

    return convert
