"""The nbval sanitiser forgives CPU-dependent digits, and nothing more."""

import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

CONFIG = Path(__file__).with_name("nbval_sanitize.cfg")


def sanitize(text):
    # As nbval does: every pattern, in file order.
    for regex, replace in get_sanitize_patterns(CONFIG.read_text()):
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize("stored, rerun", [
    # Seen between AVX-512, AVX2 and plain builds of the same notebooks:
    ("0.7953843265847726", "0.7953843265847724"),
    ("76.38801560029017", "76.38801560029023"),
    ("0.0008415392542220064", "0.0008415392814237928"),
    ("largest difference: 6.7e-16\n", "largest difference: 5.6e-16\n"),
    ("1.80411e-16", "1.249e-16"),
    ("(difference 2.2e-16)", "(difference 3.3e-16)"),
    ("gap -4.440892098500626e-16", "gap -1.1102230246251565e-15"),
])
def test_cpu_dependent_digits_compare_equal(stored, rerun):
    assert sanitize(stored) == sanitize(rerun)


@pytest.mark.parametrize("stored, rerun", [
    ("0.79538", "0.79539"),                      # a real change in the fifth decimal
    ("0.12345678", "0.12345679"),                # ... or in the eighth
    ("loss 0.0309", "loss 0.0308"),
    ("tolerance 1e-12", "tolerance 1e-11"),      # values above 1e-13 are compared
    ("error 2.5e-03", "error 2.6e-03"),
    ("n = 4096", "n = 4097"),
    ("1.0e-16", "1.0"),                          # rounding error is not a real number
])
def test_real_differences_still_differ(stored, rerun):
    assert sanitize(stored) != sanitize(rerun)
