"""Tests for lenakernel/checks/_core.py: `run_cases` calls the student's function by
position, compares under one tolerance rule, names the failing case with a hint, shows
large inputs as shapes, remembers the failure, and never raises."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lenakernel as lk
from lenakernel.checks import last_failure, run_cases
from lenakernel.checks._core import Between, Case, Mistake, causality_probe, loop_probe, memory_probe


def reference(a):
    return np.cumsum(a)


CASES = [Case("three numbers", {"a": np.arange(3.0)}), Case("two numbers", {"a": np.array([2.0, -1.0])},
                                                            note="a negative entry"),
         Case("four ones", {"a": np.ones(4)})]


def check(student, cases=CASES, **kwargs):
    return run_cases(student, reference, cases, exercise="Cumsum", **kwargs)


def test_correct_answer_names_every_case(capsys):
    assert check(np.cumsum) is True
    assert capsys.readouterr().out == (
        "Cumsum. Allowed from lenakernel: nothing (NumPy only). Checks values only.\n"
        "Correct: Cumsum passes all 3 cases: three numbers; two numbers; four ones.\n")


def test_intro_lists_allowed_functions_and_checks(capsys):
    probe = loop_probe({"a": np.arange(3.0)}, own_limit=None, all_limit=None, what="loop", hint="")
    check(np.cumsum, allowed=("lk.softmax_attention", "lk.elu_plus_one"), probes=[probe])
    first = capsys.readouterr().out.splitlines()[0]
    assert first == ("Cumsum. Allowed from lenakernel: lk.softmax_attention, lk.elu_plus_one. "
                     "Checks values, no loop.")


# --- the tolerance rule --------------------------------------------------------------


def test_tolerance_is_relative_for_float64(capsys):
    assert check(lambda a: np.cumsum(a) * (1 + 5e-7)) is True
    assert check(lambda a: np.cumsum(a) * (1 + 5e-6)) is False


def test_tolerance_scales_with_the_answers_dtype(capsys):
    # float32 rounding (about 1e-7 relative) passes; a float32 answer off by 1e-2 does not.
    assert check(lambda a: np.cumsum(a).astype(np.float32)) is True
    assert check(lambda a: torch.cumsum(torch.tensor(a, dtype=torch.float32), 0)) is True
    assert check(lambda a: (np.cumsum(a) * 1.01).astype(np.float32)) is False


def test_tolerance_floor_is_relative_to_the_case():
    # An entry near 0 is compared against 1e-3 of the case's largest value, not exactly.
    def ref(a):
        return np.array([1e-12, 1.0])
    assert run_cases(lambda a: np.array([1e-12 + 1e-10, 1.0]), ref, [{"a": 0}], exercise="x") is True
    assert run_cases(lambda a: np.array([1e-12 + 1e-6, 1.0]), ref, [{"a": 0}], exercise="x") is False


def test_between_accepts_any_answer_inside_the_band(capsys):
    def ref(a):
        return Between(a, 1.001 * a)
    cases = [{"a": np.array([1.0, 2.0])}]
    assert run_cases(lambda a: a, ref, cases, exercise="band") is True
    assert run_cases(lambda a: 1.0005 * a, ref, cases, exercise="band") is True
    assert run_cases(lambda a: 1.001 * a, ref, cases, exercise="band") is True
    assert run_cases(lambda a: 1.002 * a, ref, cases, exercise="band") is False
    assert "any eps up to 1e-6 is accepted" in capsys.readouterr().out


def test_booleans_must_be_exact(capsys):
    cases = [{"a": 1}]
    assert run_cases(lambda a: True, lambda a: True, cases, exercise="b") is True
    assert run_cases(lambda a: np.bool_(True), lambda a: True, cases, exercise="b") is True
    assert run_cases(lambda a: False, lambda a: True, cases, exercise="b") is False
    assert "you returned False, expected True" in capsys.readouterr().out
    assert run_cases(lambda a: 1.0, lambda a: True, cases, exercise="b") is False
    assert "should be True or False" in capsys.readouterr().out


# --- calling the student's function (issue 11) ---------------------------------------


def test_parameters_are_passed_by_position(capsys):
    assert check(lambda renamed: np.cumsum(renamed)) is True


def test_wrong_number_of_parameters_says_keep_them_as_written(capsys):
    assert check(lambda a, b: a) is False
    out = capsys.readouterr().out
    assert ("your function takes (a, b), but the checker passes (a) in this order: keep the "
            "parameters as the exercise writes them") in out


def test_none_says_none_and_why(capsys):
    assert check(lambda a: None) is False
    out = capsys.readouterr().out
    assert 'Case 1 of 3, "three numbers", failed: the result is None.' in out
    assert "Hint: is a `return` statement missing?" in out


def test_tensor_with_requires_grad_is_accepted():
    def torch_cumsum(a):
        return torch.cumsum(torch.tensor(a, requires_grad=True), dim=0) * 1.0

    assert check(torch_cumsum) is True


def test_list_result_is_compared():
    assert check(lambda a: list(np.cumsum(a))) is True


def test_complex_with_nonzero_imaginary_part_is_refused(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a verdict, not a ComplexWarning
        assert check(lambda a: np.cumsum(a) + 1e-3j) is False
    assert "complex values (imaginary parts up to 0.001); the answer is real" in capsys.readouterr().out
    assert check(lambda a: np.cumsum(a) + 0j) is True


def test_not_implemented_is_not_solved_yet(capsys):
    def stub(a):
        raise NotImplementedError

    assert check(stub) is False
    assert capsys.readouterr().out.splitlines()[1] == (
        "Not solved yet: your function raises NotImplementedError. Write your solution and run this cell again.")


def test_exception_becomes_a_verdict_naming_the_case(capsys):
    assert check(lambda a: a / {}) is False
    assert 'Case 1 of 3, "three numbers", failed: your function raised TypeError' in capsys.readouterr().out


@pytest.mark.parametrize("student", [None, 3, "np.cumsum"])
def test_not_callable(student, capsys):
    assert check(student) is False
    assert "the checker needs your function" in capsys.readouterr().out


@pytest.mark.parametrize("result", ["abc", {"a": 1}, object(), [[1.0], [1.0, 2.0]]])
def test_non_numeric_result(result, capsys):
    assert check(lambda a: result) is False
    assert "should be an array of numbers" in capsys.readouterr().out


junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=True), st.text(max_size=5), st.lists(st.floats(allow_nan=True), max_size=4),
    st.lists(st.lists(st.integers(), max_size=3), max_size=3),
    st.sampled_from([torch.tensor([1.0, 2.0], dtype=torch.bfloat16), torch.ones(3, dtype=torch.complex64),
                     np.ones(3, dtype=np.float16), np.array(["a", "b"]), (np.ones(2), None)]),
)


@settings(max_examples=60, deadline=None)
@given(result=junk, raises=st.booleans())
def test_never_raises(result, raises):
    def student(a):
        if raises:
            raise ValueError(repr(result))
        return result

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check(student) in (True, False)


# --- what a failure shows ----------------------------------------------------------


def test_failure_names_the_case_what_it_tests_and_the_values(capsys):
    assert check(lambda a: a if a.size == 2 else np.cumsum(a)) is False
    out = capsys.readouterr().out
    assert 'Case 2 of 3, "two numbers", failed: the values differ (largest difference 2 at index (1,)).' in out
    assert "This case: a negative entry" in out
    assert "a = [ 2., -1.]" in out and "expected: [2., 1.]" in out and "got:      [ 2., -1.]" in out
    assert "Case 3" not in out  # stops at the first failure


def test_large_inputs_are_shown_as_shapes_not_cut_arrays(capsys):
    cases = [Case("big", {"a": np.arange(200.0).reshape(2, 10, 10)})]
    assert check(lambda a: a, cases=cases) is False
    out = capsys.readouterr().out
    assert "a = array of shape (2, 10, 10), float64, values from 0 to 199" in out
    assert "..." not in out and len(out.splitlines()) < 12


def test_last_failure_returns_the_case_to_rebuild_it(capsys):
    assert check(lambda a: 2 * a) is False
    failure = last_failure()
    assert failure["case"] == "three numbers" and failure["exercise"] == "Cumsum"
    np.testing.assert_array_equal(failure["inputs"]["a"], np.arange(3.0))
    np.testing.assert_array_equal(failure["expected"], [0.0, 1.0, 3.0])
    np.testing.assert_array_equal(failure["got"], [0.0, 2.0, 4.0])
    assert "lk.checks.last_failure()" in capsys.readouterr().out
    assert check(np.cumsum) is True
    assert last_failure() is None


def test_warnings_of_the_students_function_are_reported_not_emitted(capsys):
    def overflowing(a):
        return np.exp(np.cumsum(a) * 1e3) * 0

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check(overflowing) is False
    warned = [line for line in capsys.readouterr().out.splitlines() if "Your function warned:" in line]
    assert warned and "overflow encountered in exp" in warned[0]


# --- hints ---------------------------------------------------------------------------


def test_a_listed_mistake_prints_its_hint(capsys):
    mistakes = [Mistake("you summed; this wants a running sum", lambda a: np.full(a.shape, a.sum()))]
    assert check(lambda a: np.full(a.shape, a.sum()), mistakes=mistakes) is False
    assert "Hint: you summed; this wants a running sum" in capsys.readouterr().out


def test_constant_factor_hint(capsys):
    assert check(lambda a: 3 * np.cumsum(a)) is False
    assert "Hint: your result is 3 times the expected one everywhere" in capsys.readouterr().out


def test_transposed_hint(capsys):
    def ref(a):
        return a
    case = [{"a": np.arange(6.0).reshape(2, 3)}]
    assert run_cases(lambda a: a.T, ref, case, exercise="t") is False
    assert "Hint: your result is the transpose of the expected one" in capsys.readouterr().out


def test_shifted_rows_hint(capsys):
    def ref(a):
        return a

    def shifted(a):
        return np.concatenate([np.zeros_like(a[:1]), a[:-1]])
    assert run_cases(shifted, ref, [{"a": np.arange(1.0, 9.0).reshape(4, 2)}], exercise="s") is False
    assert "Hint: your rows are shifted by one position" in capsys.readouterr().out


def test_nan_in_the_first_row_only_points_at_position_zero(capsys):
    def ref(a):
        return a

    def first_nan(a):
        out = a.copy()
        out[0] = np.nan
        return out
    assert run_cases(first_nan, ref, [{"a": np.arange(1.0, 9.0).reshape(4, 2)}], exercise="s") is False
    out = capsys.readouterr().out
    assert "the result contains NaN or infinite values" in out
    assert "Hint: your first row is NaN or inf: position 0 must attend to itself" in out


def test_squeezable_shape_hint(capsys):
    assert check(lambda a: np.cumsum(a)[:, None]) is False
    out = capsys.readouterr().out
    assert "the result has shape (3, 1), expected shape (3,)" in out
    assert "Hint: the values may be right but the shape is not: reshape to (3,)" in out


# --- probes --------------------------------------------------------------------------


def _running_mean(q):
    return np.cumsum(q, axis=0) / np.arange(1, len(q) + 1)[:, None]


def test_causality_probe_passes_a_causal_function_and_names_a_leak(capsys):
    q = np.random.default_rng(0).standard_normal((8, 2))
    probe = [causality_probe({"q": q})]
    assert run_cases(_running_mean, _running_mean, [{"q": q}], exercise="c", probes=probe) is True

    def leaky_rounding(q):
        return _running_mean(q) + 1e-12 * q.sum(0)  # within the tolerance, but not bit-exact
    assert run_cases(leaky_rounding, _running_mean, [{"q": q}], exercise="c", probes=probe) is False
    out = capsys.readouterr().out
    assert 'Check "causality" failed: changing only positions after t = 0 changed your output' in out


def test_memory_probe_refuses_an_n_by_n_intermediate(capsys):
    x = np.random.default_rng(0).standard_normal((1500, 2))
    probe = [memory_probe({"q": x}, m=1500, n=1500)]

    def quadratic(q):
        return np.tril(np.ones((len(q), len(q)))) @ q / np.arange(1, len(q) + 1)[:, None]

    assert run_cases(_running_mean, _running_mean, [{"q": x[:5]}], exercise="m", probes=probe) is True
    assert run_cases(quadratic, _running_mean, [{"q": x[:5]}], exercise="m", probes=probe) is False
    assert 'Check "no 1500 x 1500 matrix" failed' in capsys.readouterr().out

    def torch_quadratic(q):
        t = torch.as_tensor(q)
        return (torch.ones(len(t), len(t)).double().tril() @ t / torch.arange(1, len(t) + 1)[:, None]).numpy()
    assert run_cases(torch_quadratic, _running_mean, [{"q": x[:5]}], exercise="m", probes=probe) is False


def test_loop_probe_counts_lines_of_the_students_own_code(capsys):
    x = np.arange(500.0)[:, None]
    probe = [loop_probe({"q": x}, own_limit=100, all_limit=None, what="loop over rows", hint="vectorise")]

    def looped(q):
        out = np.empty_like(q)
        total = 0.0
        for i in range(len(q)):
            total += q[i, 0]
            out[i, 0] = total / (i + 1)
        return out

    assert run_cases(_running_mean, _running_mean, [{"q": x[:4]}], exercise="l", probes=probe) is True
    assert run_cases(looped, _running_mean, [{"q": x[:4]}], exercise="l", probes=probe) is False
    out = capsys.readouterr().out
    assert 'Check "no loop over rows" failed' in out and "Hint: vectorise" in out


def test_checkers_are_listed_with_their_allowed_functions():
    assert set(lk.checks.ALLOWED) == {name for name in lk.checks.__all__ if name.startswith("check_")}
    assert lk.checks.ALLOWED["check_qk_norm_attention"] == ("lk.softmax_attention",)
    assert lk.checks.ALLOWED["check_nadaraya_watson"] == ()
