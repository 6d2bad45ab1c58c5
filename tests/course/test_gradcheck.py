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
    "call, error, message",
    [
        (lambda: numerical_gradient(lambda: 0.0, np.arange(3)), ValueError, r"x must have a floating-point dtype .* got int64"),
        (lambda: numerical_gradient(lambda: 0.0, [1.0, 2.0]), TypeError, r"x must be an array, got list"),
        (lambda: numerical_gradient(3.0, np.zeros(3)), TypeError, r"f must be a callable returning a float, got float"),
        (lambda: numerical_gradient(lambda: 0.0, np.zeros(3), h=0), ValueError, r"h must be a positive float, got 0"),
        (lambda: numerical_gradient(lambda: np.zeros(2), np.zeros(3)), ValueError, r"f must return a scalar, got an array of shape \(2,\)"),
        (lambda: numerical_gradient(lambda: "x", np.zeros(3)), TypeError, r"f must return a real number, got str"),
        (lambda: rel_error(np.zeros(3), np.zeros(4)), ValueError, r"a and b must have the same shape, got \(3,\) and \(4,\)"),
        (lambda: rel_error(np.zeros(3), "abc"), TypeError, r"b must hold real numbers"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])

    def f():
        if x[0] != 1.0:
            raise RuntimeError("boom")
        return float(np.sum(x))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    assert x.tolist() == [1.0, 2.0]


def test_numerical_gradient_accepts_a_one_entry_array_from_f():
    x = np.array([1.0, -2.0])
    grad = numerical_gradient(lambda: np.sum(x * x, keepdims=True), x)
    assert grad == pytest.approx([2.0, -4.0])


def test_rel_error_contract():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    assert rel_error(a, b) == rel_error(b, a)  # symmetric
    assert rel_error(1e6 * a, 1e6 * b) == pytest.approx(rel_error(a, b), rel=1e-12)  # scale-free
    assert rel_error(a, -a) == pytest.approx(2.0)  # the largest possible value
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0  # empty
    assert rel_error([1.0, 2.0], (1.0, 2.2)) == pytest.approx(0.2 / 2.2)  # array-likes
    assert rel_error(np.array([1, 2]), np.array([1.0, 2.0])) == 0.0  # integers
    assert np.isnan(rel_error(np.array([np.nan, 1.0]), np.array([1.0, 1.0])))
    assert np.isnan(rel_error(np.array([np.inf]), np.array([np.inf])))


def test_library_has_one_numerical_gradient_and_one_rel_error():
    import ast
    import pathlib

    from course import gradcheck

    names = {"numerical_gradient", "rel_error", "eval_numerical_gradient", "numeric_grad", "num_grad"}
    found = []
    for path in pathlib.Path(gradcheck.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in names:
                found.append(f"{path.name}:{node.name}")  # widgets and lectures import these two
    assert sorted(found) == ["gradcheck.py:numerical_gradient", "gradcheck.py:rel_error"], found
