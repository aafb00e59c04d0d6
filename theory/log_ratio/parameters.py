r"""The parameter descriptions shared by the modules of :mod:`theory.log_ratio`, written once.

Every law of the package takes the same ``data`` / ``model`` pair, thresholds ``N`` and
resolution knobs; their meaning is stated here and filled into each docstring by
:class:`theory.docstrings.DocTemplate` (a docstring line ``%(model)s`` becomes the block
below, re-indented).  A module of its own because every other module of the package uses
it and it depends on none of them.
"""

from __future__ import annotations

from ..docstrings import DocTemplate

__all__ = []        # infrastructure: DOCS is imported by the sibling modules only

_MODEL = r"""model : MarkovModel or AutoregressiveLinearModel
    The model :math:`\hat\pi`, possibly a batch of ``P`` models; same prompts,
    vocabulary, horizon and prompt distribution as ``data``."""

_TABULAR = "    Linear models must have tabular features (they are converted with ``as_markov``)."

#: The fragments; ``model_tabular`` and ``model_single`` add the restrictions of the Markov
#: (chain-rule and lattice) computations to ``model``.
DOCS = DocTemplate(
    data=r"""data : MarkovModel or AutoregressiveLinearModel
    The data distribution :math:`\pi_D` (a single model, not a batch).""",
    model=_MODEL,
    model_tabular=_MODEL + "\n" + _TABULAR,
    model_single=r"""model : MarkovModel or AutoregressiveLinearModel
    The model :math:`\hat\pi`, a single model (not a batch); same prompts, vocabulary,
    horizon and prompt distribution as ``data``.
""" + _TABULAR,
    paths="""x : array_like of int
    Prompts, any shape.
y : array_like of int
    Responses, shape ``x.shape + (H,)``.""",
    N="""N : float or array_like
    Thresholds ``>= 1`` (``inf`` allowed).""",
    max_sequences="""max_sequences : int, optional
    Refuse supports with more than this many sequences per prompt.""",
    n_bins="""n_bins : int, optional
    Lattice size (window length), ``16 <= n_bins <= 2**26``.""",
    width_sd="""width_sd : float, optional
    Half-width of the lattice window in standard deviations of :math:`Z_h`, ``> 0``.""",
    n_freq="""n_freq : int, optional
    Number of Fourier frequencies of the ``"fourier"`` method (its resolution knob;
    frequencies whose characteristic function is negligible cost almost nothing),
    ``16 <= n_freq <= 2**24``.""",
    method=r"""method : {"auto", "lattice", "fft", "fourier"}, optional
    ``"lattice"``: the position-by-position dynamic programme over a moving window (any
    Markov model).  ``"fft"``: time-homogeneous tables only; the lattice law modulo
    ``n_bins`` from the characteristic function at the DFT frequencies (matrix powers by
    repeated squaring, :math:`O(\text{n\_bins}\,X V^3\log H)`), the window covering only the
    final law and the aliased mass bounded by Chernoff bounds with the exact MGF of
    :math:`Z_r`.  ``"fourier"`` (any Markov model): no rounding at all; the exact
    characteristic function of :math:`Z` (:mod:`theory.log_ratio.fourier`) with a Gaussian
    smoothing of scale :math:`\propto 1/\text{n\_freq}` and a periodised Fourier series,
    all truncation and floating-point errors bounded; its gap has no :math:`\sqrt H`
    penalty (about ``7e-4`` at ``V = 4``, ``H = 1000`` with the default ``n_freq``,
    halving when ``n_freq`` doubles).
    ``"auto"`` uses ``"fourier"`` for ``H >= 64`` and ``"lattice"`` below (exact on
    atoms of :math:`Z`, which dominate at short horizons).""",
)
