"""Gradient checking helpers."""
import numpy as np
import pytest

from course.backend import to_numpy
from course.gradcheck import numerical_gradient, rel_error


def test_numerical_gradient_of_a_known_function(xp):
    x = xp.asarray([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
    grad = numerical_gradient(lambda: float(xp.sum(x * x * x)), x)
    assert to_numpy(grad) == pytest.approx(3 * to_numpy(x) ** 2, rel=1e-8, abs=1e-9)
    assert to_numpy(x).tolist() == [[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]]  # restored


def test_rel_error_values():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 2.2)
    assert rel_error(3.0, 3.3) == pytest.approx(0.3 / 3.3)


def test_a_wrong_gradient_is_caught():
    x = np.array([0.3, -0.7, 1.1])
    numeric = numerical_gradient(lambda: float(np.sum(np.sin(x))), x)
    assert rel_error(np.cos(x), numeric) < 1e-9
    assert rel_error(-np.cos(x), numeric) > 1.0  # sign error
    assert rel_error(np.cos(x) * 1.001, numeric) > 1e-4  # off by 0.1 %


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: numerical_gradient(lambda: 0.0, np.arange(3)), r"x must have a floating-point dtype .* got int64"),
        (lambda: numerical_gradient(3.0, np.zeros(3)), r"f must be a callable returning a float, got float"),
        (lambda: numerical_gradient(lambda: 0.0, np.zeros(3), h=0), r"h must be a positive float, got 0"),
        (lambda: rel_error(np.zeros(3), np.zeros(4)), r"a and b must have the same shape, got \(3,\) and \(4,\)"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
