"""The public helpers every module builds on: seed handling (SPEC 7) and docstring templates."""

import numpy as np
import pytest

from theory.docstrings import DocTemplate
from theory.validation import check_rng


@pytest.mark.parametrize("seed", [0, 7, np.int64(7), np.random.SeedSequence(7), np.random.PCG64(7)])
def test_check_rng_accepts_seed_like_values(seed):
    expected = np.random.default_rng(seed if not isinstance(seed, np.random.PCG64)
                                     else np.random.PCG64(7)).random(3)
    assert np.array_equal(check_rng(seed).random(3), expected)


def test_check_rng_returns_a_generator_unchanged_so_its_stream_advances():
    rng = np.random.default_rng(1)
    assert check_rng(rng) is rng
    assert isinstance(check_rng(None), np.random.Generator)


@pytest.mark.parametrize("bad, error", [(1.5, TypeError), ("3", TypeError), (True, TypeError),
                                        (np.random.RandomState(0), TypeError), (-1, ValueError)])
def test_check_rng_refuses_other_values_naming_the_argument(bad, error):
    with pytest.raises(error, match="`seed`"):
        check_rng(bad, "seed")


def test_doc_template_fills_placeholders_at_the_line_indentation():
    template = DocTemplate(n="n : int\n    Number of samples.")

    @template
    def f(n):
        """Summary.

        Parameters
        ----------
        %(n)s
        """

    assert "        n : int\n            Number of samples." in f.__doc__
    assert "%(" not in f.__doc__


def test_doc_template_refuses_an_unknown_placeholder():
    with pytest.raises(KeyError, match="typo"):
        DocTemplate(n="n : int")(type("C", (), {"__doc__": "    %(typo)s\n"}))
