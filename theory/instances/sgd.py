r"""Constructions for the SGD, test-time-training and distillation results (Sections 5–6).

All instances here have **i.i.d. tokens given the prompt**: the features depend on the
prompt and the current token only, :math:`\phi(x, y_{1:h}) = \Phi[x, y_h]`, so coverage is
evaluated exactly/certifiably at any ``H`` by :class:`theory.iid_tokens.IidTokenLaw`.
Tokens are indices ``0..V-1``; for ``V = {-1, 0, 1}`` index ``i`` is the token ``i - 1``.

Lower-bound constructions of Prop. 5.1 (App. K.4 ICLR / I.4 arXiv), ``d = 2``,
:math:`\Theta = B_2(1)`, :math:`\phi(x, y_{1:h}) = s_x\,v(x, y_h)`:

* :func:`lemma_k6` (step sizes :math:`\eta \ge 8/(HB)`): one prompt, feature scale ``B``,
  :math:`v(0) = [1; 0]`, :math:`v(\pm1) = [\alpha_\eta; \pm\sqrt{1-\alpha_\eta^2}]`,
  :math:`\alpha_\eta = \eta HB/(2(\eta HB - 1))`, :math:`\theta_\star = [1; 0]`, started at
  :math:`\theta_0 = v(1)`.  The data are (up to :math:`e^{-B(1-\alpha)}`) the all-zero
  sequence, the gradient at :math:`v(\pm1)` is :math:`\approx HB(v(0) - v(\pm1))` and its
  projected step lands exactly on :math:`v(\mp1)`: the iterates oscillate and
  :math:`\mathrm{Cov}_N \approx 1` for every iterate.
* :func:`lemma_k7` (step sizes :math:`\eta < 8/(HB)`): prompts ``+`` (index 0) and ``-``
  (index 1) with features :math:`\bar B[a; 0]` and :math:`\bar B[0; a]`,
  :math:`\theta_\star = [1/2; 1/2]`.  Under :math:`\pi_D` the tokens are almost surely
  :math:`a = 1` (:math:`\pi_D(0) \approx e^{-\bar B/2}`), so :math:`\sigma_\star \le 1`
  once :math:`\bar B \gtrsim 2\log(H\bar B^2)`.  Writing :math:`u = e^{\bar B\theta_x}`, one
  sequence-level step on prompt ``x`` is :math:`u \mapsto u\,e^{\eta H\bar B^2/u}
  \approx u + \eta H\bar B^2`, while the prompt stays uncovered
  (:math:`Z \approx H/u \ge \log N`) until :math:`u \ge H/\log N`: that takes
  :math:`k_\star \approx 1/(\eta\bar B^2\log N) \ge HB/(8\bar B^2\log N)` visits of the
  prompt (:func:`lemma_k7_visits`).  Coverage therefore stays :math:`\gtrsim
  \min\{\mu(x), k_\star/T\}`, linear in ``H`` (:math:`\propto H/(T\log N)` when
  :math:`B \asymp \bar B^2`, the paper's :math:`B \ge c\log^2(TH)`).

**Checked against the paper** (arXiv 2510.15020v2, App. I.4, proof of Lemma I.7 = K.7 ICLR).
The construction fixes :math:`B \ge \bar B \ge 1`, :math:`\phi(x, y_{1:h}) = B\,v(x, y_h)` with
:math:`v(+, a) = (1/B)[\bar B a; 0]` and :math:`v(-, a) = (1/B)[0; \bar B a]`, so the features
of the prompts ``±`` are :math:`\bar B[a; 0]` and :math:`\bar B[0; a]` (the *small* scale);
the *large* scale ``B`` enters only through the step-size threshold :math:`8/(HB)` and the
prompt mass :math:`\mu(+) = \min\{1, BH/(512e\,n\bar B^2\log N)\}`; the lemma's bound is
:math:`\mathrm{Cov}_N \ge c\min\{1, HB/(T\bar B^2\log N)\}`; the proof starts at
:math:`\theta_0 = [r - 1/\bar B; 1/4]` with :math:`e^{r\bar B} = H/(4\log N)`
(:func:`lemma_k7_start`), the prompt ``+`` uncovered and ``-`` covered.  This is what
:func:`lemma_k7` builds.  (The reference notes ``coverage-principle.md`` §3.1, written
before the paper text was retrievable, swap ``B`` and :math:`\bar B` in :math:`\mu(+)` and in
the lemma's bound; an earlier version of this module reconstructed the same choice as here
from the mechanism.)  The default initialisation of :func:`lemma_k7` is :math:`\theta_0 = 0`;
pass ``theta_init`` for the paper's.

With :math:`\theta_0 = [r - 1/\bar B; \cdot]` the dynamics of a prompt are scale-invariant
in ``H`` [derived]: writing :math:`u = e^{\bar B\theta_x} = Hw`, the prompt starts at
:math:`w_0 = 1/(4e\log N)`, is uncovered while :math:`w \lesssim 2/\log N`, and as long
as :math:`u \ll e^{\bar B/2}` a sequence's score on it is :math:`\approx 2\bar B/w`,
independent of ``H``.  An optimizer whose steps do not scale with ``H`` (normalized SGD,
truncated distillation, the test-time-training decoder's token steps) therefore has an
``H``-free transient, while vanilla SGD with :math:`\eta \propto 1/H` needs
:math:`\approx(2 - 1/(2e))H/\log N` visits (:func:`lemma_k7_visits`; truncated distillation: :func:`lemma_k7_distillation_visits`).  From
:math:`\theta_0 = 0` the same optimizers pay an extra :math:`\log(H/\log N)`
(the distance to the covering region grows like :math:`\log(H)/\bar B`).

:func:`lemma_k7_fixed_variance` is Lemma K.7's class with :math:`\theta_\star = [c; c]` moved
so that :math:`\sigma_\star^2` is the same at every ``H`` (Theorem 5.1's ``H``-free statement
is at fixed :math:`\sigma_\star^2` and ``B``; on :func:`lemma_k7` itself
:math:`\sigma_\star^2 \propto H`).

Also :func:`rare_token_instance` (a pivotal rare token; skewed per-sequence gradients, for
the normalisation bias of Theorem 5.1), and :func:`rare_event_instance`, a rare token among
``m`` interchangeable common ones: with a vocabulary that grows with ``H`` it keeps
:math:`\sigma_\star^2` fixed at a small ``B`` (a rare token of probability :math:`c/H` needs a
logit gap :math:`\log(H/c) \le 2B` with two tokens, but only :math:`\log(H/(cm))` with ``m``
common ones), the family on which Theorem 5.1's bound with the proof's constants is below 1.  Prop. 3.2's construction, used for test-time
training, is :func:`theory.instances.prop_3_2_kl_lower_bound`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from ..validation import as_finite_array, check_allocation, check_real
from ..models import AutoregressiveLinearModel, TabularFeatures
from ._base import Instance

__all__ = ["lemma_k6", "lemma_k7", "lemma_k7_visits", "lemma_k7_mu_plus", "lemma_k7_start",
           "lemma_k7_distillation_visits",
           "sgd_lower_bound_instance", "lemma_k7_fixed_variance", "rare_token_instance",
           "rare_event_instance"]

#: Token values of ``V = {-1, 0, 1}`` by index.
TOKENS_PM = np.array([-1.0, 0.0, 1.0])


def iid_token_features(token_table, horizon):
    r"""Tabular features :math:`\phi(x, y_{1:h}) = \Phi[x, y_h]` from a ``(X, V, d)`` table.

    Examples
    --------
    >>> f = iid_token_features(np.eye(2)[None], horizon=3)
    >>> f.table.shape
    (1, 1, 3, 2, 2)
    """
    t = np.asarray(token_table, dtype=float)
    if t.ndim != 3:
        raise ValueError(f"`token_table` must have shape (X, V, d), got {t.shape}.")
    x, v, d = t.shape
    table = np.ascontiguousarray(np.broadcast_to(t[:, None, None], (x, 1, v + 1, v, d)))
    return TabularFeatures(table, horizon)


def _pos(value, name):
    return check_real(value, name, low=0.0, low_open=True)


def _positive_array(value, name, low=0.0, strict=None):
    arr = as_finite_array(value, name)
    strict = (low == 0.0) if strict is None else strict
    if (arr < low).any() or (strict and (arr == low).any()):
        raise ValueError(f"`{name}` must be {'>' if strict else '>='} {low:g}, got minimum {arr.min()}.")
    return arr


def _horizon(H):
    if isinstance(H, bool) or not isinstance(H, (int, np.integer)) or H < 1:
        raise ValueError(f"`H` must be a positive integer, got {H!r}.")
    return int(H)


def lemma_k6(eta, H, B=4096.0):
    r"""Lemma K.6 (ICLR) / I.6 (arXiv): vanilla SGD with :math:`\eta \ge 8/(HB)` oscillates.

    Parameters
    ----------
    eta : float
        The (constant) step size the instance is built against; ``eta*H*B >= 8``.
    H : int
        Sequence length.
    B : float
        Feature norm :math:`\|\phi\| = B`.

    Returns
    -------
    Instance
        ``data`` = :math:`\pi_{\theta_\star}`, :math:`\theta_\star = [1; 0]`;
        ``model_class`` holds the initialisation :math:`\theta_0 = v(1)`;
        ``params`` has ``alpha``, ``radius = 1`` and ``regime = "K.6"``.

    Examples
    --------
    >>> inst = lemma_k6(eta=8 / (16 * 64.0), H=16, B=64.0)
    >>> round(inst.params["alpha"], 6)     # 8 / 14
    0.571429
    """
    eta, B, H = _pos(eta, "eta"), _pos(B, "B"), _horizon(H)
    c = eta * H * B
    if c < 8.0 * (1 - 1e-12):
        raise ValueError(f"Lemma K.6 needs eta*H*B >= 8, got {c:.6g} (use lemma_k7).")
    alpha = c / (2.0 * (c - 1.0))
    s = np.sqrt(1.0 - alpha ** 2)
    v = np.array([[alpha, -s], [1.0, 0.0], [alpha, s]])
    features = iid_token_features(B * v[None], H)
    data = AutoregressiveLinearModel(features, np.array([1.0, 0.0]))
    start = AutoregressiveLinearModel(features, v[2].copy())
    return Instance("lemma_k6", "Lemma K.6 (ICLR) / I.6 (arXiv); Prop. 5.1 lower bound",
                    data=data, model_class=start,
                    params={"eta": eta, "H": H, "B": B, "alpha": float(alpha), "radius": 1.0,
                            "theta_star": [1.0, 0.0], "theta_init": v[2].tolist(),
                            "regime": "K.6"})


def lemma_k7_visits(eta, H, B_bar, N, *, start=0.0):
    r"""Visits of a ``±`` prompt vanilla SGD needs before it is covered (derived; see the module notes).

    The mechanism of Lemma K.7 (ICLR) / I.7 (arXiv): one sequence-level step on the prompt
    moves :math:`u = e^{\bar B\theta_x}` by :math:`\eta H\bar B^2`, and the prompt is
    uncovered while :math:`u < H/\log N`, so from :math:`u_0 = e^{\bar B\,\text{start}}`

    .. math:: k_\star = \frac{\max\{H/\log N - u_0, 0\}}{\eta H\bar B^2}.

    Parameters
    ----------
    eta : array_like
        Step size :math:`\eta > 0`.
    H : array_like
        Sequence length ``>= 1``.
    B_bar : array_like
        Feature scale :math:`\bar B > 0` of the prompts ``±``.
    N : array_like
        Coverage threshold ``> 1``.
    start : array_like, optional
        The prompt's initial coordinate :math:`\theta_{0,x}` (``0``, or :func:`lemma_k7_start`
        for the paper's initialisation).

    Returns
    -------
    ndarray
        :math:`k_\star`, broadcast over the arguments.

    Examples
    --------
    >>> round(float(lemma_k7_visits(8 / (64 * 4096.0), 64, 40.0, np.e)), 3)
    20.16
    """
    eta = _positive_array(eta, "eta")
    H = _positive_array(H, "H", low=1.0)
    B_bar = _positive_array(B_bar, "B_bar")
    logn = np.log(_positive_array(N, "N", low=1.0, strict=True))
    u0 = np.exp(B_bar * as_finite_array(start, "start"))
    return np.maximum(H / logn - u0, 0.0) / (eta * H * B_bar ** 2)


def lemma_k7_distillation_visits(eta, H, B_bar, N, *, start=0.0):
    r"""Visits of a ``±`` prompt truncated distillation needs before it is covered (derived).

    Theorem G.2 (ICLR) / 6.2 (arXiv)'s update on Lemma K.7 (ICLR) / I.7 (arXiv)'s instance:
    far from the teacher each token's KL is :math:`\varepsilon \approx 1/u`
    (:math:`u = e^{\bar B\theta_x}`), so about :math:`Au` tokens are kept
    (:math:`A = \log N`), the truncated score is :math:`\approx A\bar B` whatever ``H``, and
    one visit multiplies ``u`` by :math:`e^{\eta A\bar B^2}`.  The truncation stops binding
    exactly when the prompt is covered (:math:`u \ge H/A`), after

    .. math:: k_\star = \frac{\log\max\{H/(A u_0), 1\}}{\eta A\bar B^2}

    visits from :math:`u_0 = e^{\bar B\,\text{start}}`: ``H``-free from the paper's
    initialisation (:math:`u_0 \propto H`), :math:`\propto\log(H/A)` from ``0``.

    Parameters
    ----------
    eta : array_like
        Step size :math:`\eta > 0`.
    H : array_like
        Sequence length ``>= 1``.
    B_bar : array_like
        Feature scale :math:`\bar B > 0` of the prompts ``±``.
    N : array_like
        Coverage threshold ``> 1`` (:math:`A = \log N`).
    start : array_like, optional
        The prompt's initial coordinate :math:`\theta_{0,x}`.

    Returns
    -------
    ndarray
        :math:`k_\star`, broadcast over the arguments.

    Examples
    --------
    >>> A = np.log(8.0)
    >>> eta = 1 / ((64 * A + 2) * 24.0 ** 2)
    >>> round(float(lemma_k7_distillation_visits(eta, 512, 24.0, 8.0, start=lemma_k7_start(512, 24.0, 8.0))), 1)
    155.0
    """
    eta = _positive_array(eta, "eta")
    H = _positive_array(H, "H", low=1.0)
    B_bar = _positive_array(B_bar, "B_bar")
    A = np.log(_positive_array(N, "N", low=1.0, strict=True))
    u0 = np.exp(B_bar * as_finite_array(start, "start"))
    return np.log(np.maximum(H / (A * u0), 1.0)) / (eta * A * B_bar ** 2)


def lemma_k7_start(H, B_bar, N):
    r"""First coordinate of the proof's initialisation :math:`\theta_0 = [r - 1/\bar B; 1/4]`.

    Proof of Lemma K.7 (ICLR) / I.7 (arXiv): :math:`r` solves :math:`e^{r\bar B} = H/(4\log N)`,
    so the prompt starts at :math:`u_0 = e^{\bar B\theta_0} = H/(4e\log N)`: uncovered, at a
    distance from the covering region :math:`u \ge H/\log N` that does not depend on ``H``.

    Parameters
    ----------
    H : int
        Sequence length.
    B_bar : float
        Feature scale :math:`\bar B > 0` of the prompts ``±``.
    N : float
        Coverage threshold ``> 1``.

    Returns
    -------
    float
        :math:`r - 1/\bar B = (\log(H/(4\log N)) - 1)/\bar B`.

    Raises
    ------
    ValueError
        If :math:`r > 1/2` (the proof's requirement), i.e. :math:`H/(4\log N) > e^{\bar B/2}`.

    Examples
    --------
    >>> round(lemma_k7_start(512, 24.0, 8.0), 6)
    0.129997
    """
    H = _horizon(H)
    B_bar = _pos(B_bar, "B_bar")
    N = check_real(N, "N", low=1.0, low_open=True)
    r = np.log(H / (4.0 * np.log(N))) / B_bar
    if r > 0.5:
        raise ValueError(f"`H` = {H} is too large for `B_bar` = {B_bar:g} and `N` = {N:g}: the proof needs "
                         f"r <= 1/2, i.e. H/(4 log N) <= exp(B_bar/2); got r = {r:.4g}.")
    return float(r - 1.0 / B_bar)


def lemma_k7_mu_plus(H, B, B_bar, T, N):
    r"""Default :math:`\mu(+) = \min\{1, HB/(512e\,T\bar B^2\log N)\}` (see the reconstruction note).

    The prompt mass of Lemma K.7 (ICLR) / I.7 (arXiv), as reconstructed in the module docstring.

    Parameters
    ----------
    H : int
        Sequence length.
    B : float
        The large scale of the class.
    B_bar : float
        Feature scale :math:`\bar B` of the prompts ``±``.
    T : float
        Number of SGD steps.
    N : float
        Coverage threshold ``> 1``.

    Returns
    -------
    float
        :math:`\mu(+)`, in ``(0, 1]``.

    Examples
    --------
    >>> round(lemma_k7_mu_plus(512, 4096.0, 40.0, 1e5, 8.0), 9)
    4.529e-06
    """
    H = _horizon(H)
    B, B_bar, T = _pos(B, "B"), _pos(B_bar, "B_bar"), _pos(T, "T")
    N = check_real(N, "N", low=1.0, low_open=True)
    return float(min(1.0, H * B / (512.0 * np.e * T * B_bar ** 2 * np.log(N))))


def lemma_k7(H, B=4096.0, B_bar=40.0, *, T=None, N=None, mu_plus=None, theta_init=None):
    r"""Lemma K.7 (ICLR) / I.7 (arXiv): vanilla SGD with :math:`\eta < 8/(HB)` is too slow.

    Parameters
    ----------
    H : int
        Sequence length.
    B : float
        The large scale of the class (the step-size threshold :math:`8/(HB)`); only enters
        the default :math:`\mu(+)`.
    B_bar : float
        Feature scale of the prompts ``±`` (:math:`\|\phi\| \le \bar B \le B`).
    T, N : float, optional
        Horizon and threshold of the default :math:`\mu(+)` (:func:`lemma_k7_mu_plus`).
    mu_plus : float, optional
        Mass of the prompt ``+`` instead of the default (then ``T``, ``N`` must be omitted).
    theta_init : (2,) array_like, optional
        Initialisation :math:`\theta_0 \in B_2(1)` (default ``[0; 0]``); the proof's is
        ``[lemma_k7_start(H, B_bar, N), 1/4]``.

    Returns
    -------
    Instance
        ``data`` = :math:`\pi_{\theta_\star}`, :math:`\theta_\star = [1/2; 1/2]`, prompt
        weights :math:`(\mu(+), 1 - \mu(+))`; ``model_class`` holds :math:`\theta_0`.

    Examples
    --------
    >>> inst = lemma_k7(64, mu_plus=0.5)
    >>> inst.data.prompt_weights.tolist(), inst.params["B_bar"]
    ([0.5, 0.5], 40.0)
    """
    H, B, B_bar = _horizon(H), _pos(B, "B"), _pos(B_bar, "B_bar")
    if B_bar > B:
        raise ValueError(f"`B_bar` must be <= `B`, got {B_bar} > {B}.")
    if mu_plus is not None and (T is not None or N is not None):
        raise ValueError("`T` and `N` only set the default mu(+): pass them or `mu_plus`, not both.")
    T = None if T is None else _pos(T, "T")
    N = None if N is None else check_real(N, "N", low=1.0, low_open=True)
    if mu_plus is None:
        if T is None or N is None:
            raise ValueError("give `mu_plus`, or `T` and `N` for the default mu(+).")
        mu_plus = lemma_k7_mu_plus(H, B, B_bar, T, N)
    mu_plus = check_real(mu_plus, "mu_plus", low=0.0, high=1.0, low_open=True)
    theta0 = np.zeros(2) if theta_init is None else as_finite_array(theta_init, "theta_init").astype(float)
    if theta0.shape != (2,) or np.linalg.norm(theta0) > 1.0 + 1e-12:
        raise ValueError(f"`theta_init` must be a point of B_2(1) in R^2, got {theta0!r}.")
    table = np.zeros((2, 3, 2))
    table[0, :, 0] = B_bar * TOKENS_PM
    table[1, :, 1] = B_bar * TOKENS_PM
    features = iid_token_features(table, H)
    weights = np.array([mu_plus, 1.0 - mu_plus])
    data = AutoregressiveLinearModel(features, np.array([0.5, 0.5]), weights)
    start = AutoregressiveLinearModel(features, theta0, weights)
    return Instance("lemma_k7", "Lemma K.7 (ICLR) / I.7 (arXiv); Prop. 5.1 lower bound",
                    data=data, model_class=start,
                    params={"H": H, "B": B, "B_bar": B_bar, "mu_plus": mu_plus, "radius": 1.0,
                            "theta_star": [0.5, 0.5], "theta_init": theta0.tolist(), "regime": "K.7",
                            "T": T, "N": N})


def sgd_lower_bound_instance(eta, H, *, B=4096.0, B_bar=40.0, T=None, N=None, mu_plus=None):
    r"""Prop. 5.1's instance against step size ``eta``: :func:`lemma_k6` if :math:`\eta HB \ge 8`, else :func:`lemma_k7`.

    That is, the instance of Lemma K.6 (ICLR) / I.6 (arXiv) or Lemma K.7 (ICLR) / I.7 (arXiv).

    Parameters
    ----------
    eta : float
        The constant step size :math:`\eta > 0` the instance is built against.
    H : int
        Sequence length.
    B, B_bar : float, optional
        The class's large scale and the ``±`` prompts' feature scale (see :func:`lemma_k7`;
        :func:`lemma_k6` uses ``B`` only).
    T, N, mu_plus : optional
        Passed to :func:`lemma_k7` (ignored in the :func:`lemma_k6` regime).

    Returns
    -------
    Instance
        ``params["regime"]`` is ``"K.6"`` or ``"K.7"``.

    Examples
    --------
    >>> sgd_lower_bound_instance(1e-6, 64, mu_plus=0.5).params["regime"]
    'K.7'
    """
    eta = _pos(eta, "eta")
    if eta * _horizon(H) * _pos(B, "B") >= 8.0 * (1 - 1e-12):
        return lemma_k6(eta, H, B)
    return lemma_k7(H, B, B_bar, T=T, N=N, mu_plus=mu_plus)


def lemma_k7_fixed_variance(H, sigma_sq, B_bar=30.0, *, mu_plus=0.5):
    r"""Lemma K.7 (ICLR) / I.7 (arXiv)'s class with :math:`\theta_\star` chosen so that :math:`\sigma_\star^2` is fixed.

    On :func:`lemma_k7` the tokens are i.i.d. given the prompt, so
    :math:`\sigma_\star^2 = H\bar B^2\,v(\bar B/2)` grows linearly with ``H``, where

    .. math:: v(s) = \frac{d^2}{ds^2}\log(e^{-s} + 1 + e^{s}) = \frac{2\cosh s + 4}{(1 + 2\cosh s)^2}

    is the variance of the token :math:`a \in \{-1, 0, 1\}` under
    :math:`p(a) \propto e^{sa}` (strictly decreasing on :math:`s \ge 0`).  Here the features
    and :math:`\Theta = B_2(1)` are those of :func:`lemma_k7` (so Assumption 2.2's bound is
    :math:`B = \bar B` at every ``H``) and :math:`\theta_\star = [c; c]` with
    :math:`c \in [0, 1/\sqrt2]` the unique root of
    :math:`\sigma_\star^2(\theta_\star) = ` ``sigma_sq``, found by Brent's method on the exact
    :meth:`~theory.models.AutoregressiveLinearModel.sigma_star_sq` (Eq. (6) ICLR / (8) arXiv)
    of the same class at ``H = 1``, times ``H`` (the tokens are i.i.d. given the prompt, so the
    ``H`` per-position terms are equal); the cost does not grow with ``H``.
    Theorem 5.1 (Eq. (11) ICLR / (19) arXiv) then bounds normalized SGD's coverage by the
    same ``H``-free expression at every ``H`` (:math:`\|\theta_\star - \theta_0\| \le 1`).

    Parameters
    ----------
    H : int
        Sequence length.
    sigma_sq : float
        Target inherent variance :math:`\sigma_\star^2`, in
        :math:`[H\bar B^2 v(\bar B/\sqrt2),\ H\bar B^2 v(0)]` (``v(0) = 2/3``).
    B_bar : float, optional
        Feature scale of the prompts ``±`` (features :math:`\bar B[a; 0]` and :math:`\bar B[0; a]`).
    mu_plus : float, optional
        Mass of the prompt ``+``.

    Returns
    -------
    Instance
        ``data`` = :math:`\pi_{\theta_\star}`, ``model_class`` holds :math:`\theta_0 = [0; 0]`;
        ``params`` has ``theta_star``, ``c``, ``sigma_sq`` (the value at the root) and
        ``sigma_sq_target``.

    Examples
    --------
    >>> base = lemma_k7(16, 30.0, 30.0, mu_plus=0.5).data.sigma_star_sq()
    >>> inst = lemma_k7_fixed_variance(256, base, 30.0)
    >>> round(inst.params["sigma_sq"] / base, 9), round(inst.params["c"], 4)
    (1.0, 0.5924)
    """
    H, B_bar = _horizon(H), _pos(B_bar, "B_bar")
    sigma_sq = _pos(sigma_sq, "sigma_sq")
    mu_plus = check_real(mu_plus, "mu_plus", low=0.0, high=1.0, low_open=True)
    table = np.zeros((2, 3, 2))
    table[0, :, 0] = B_bar * TOKENS_PM
    table[1, :, 1] = B_bar * TOKENS_PM
    features = iid_token_features(table, H)
    weights = np.array([mu_plus, 1.0 - mu_plus])
    one_token = iid_token_features(table, 1)

    def sigma(c):                     # i.i.d. tokens: sigma_*^2 at H is H times its value at H = 1
        return H * AutoregressiveLinearModel(one_token, np.array([c, c]), weights).sigma_star_sq()

    lo, hi = 0.0, 1.0 / np.sqrt(2.0)
    s_lo, s_hi = sigma(lo), sigma(hi)                        # sigma(c) decreases in c
    if not s_hi <= sigma_sq <= s_lo:
        raise ValueError(f"`sigma_sq` must lie in [{s_hi:.6g}, {s_lo:.6g}] for H = {H} and "
                         f"B_bar = {B_bar:g} (theta_star = [c; c] with 0 <= c <= 1/sqrt(2)), got {sigma_sq:.6g}.")
    log_target = np.log(sigma_sq)
    c = float(brentq(lambda v: np.log(sigma(v)) - log_target, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))
    data = AutoregressiveLinearModel(features, np.array([c, c]), weights)
    start = AutoregressiveLinearModel(features, np.zeros(2), weights)
    return Instance("lemma_k7_fixed_variance",
                    "Lemma K.7 (ICLR) / I.7 (arXiv) class; Theorem 5.1 (Eq. (11) ICLR / (19) arXiv) at fixed sigma_*^2",
                    data=data, model_class=start,
                    params={"H": H, "B": B_bar, "B_bar": B_bar, "mu_plus": mu_plus, "radius": 1.0,
                            "c": float(c), "theta_star": [float(c), float(c)], "theta_init": [0.0, 0.0],
                            "sigma_sq_target": float(sigma_sq), "sigma_sq": float(sigma(c))})


def rare_token_instance(H, rate=0.5, B=8.0):
    r"""One prompt, ``V = {0, 1}``, :math:`\phi(y_{1:h}) = B\,y_h`, :math:`\Theta = [-1, 1]`.

    :math:`\theta_\star = \mathrm{logit}(\text{rate}/H)/B`: the pivotal token ``1`` appears
    :math:`\mathrm{Poisson}(\text{rate})`-many times per sequence, so
    :math:`\sigma_\star^2 = HB^2p_\star(1-p_\star) \approx B^2\,\text{rate}` does not grow with
    ``H`` and the per-sequence score :math:`B(n_1 - Hp_\theta)` is skewed — the situation
    where gradient normalisation is biased (the :math:`B/(K\log N)` term of Theorem 5.1).

    Parameters
    ----------
    H : int
        Sequence length.
    rate : float, optional
        Expected number of pivotal tokens per sequence, in ``(0, H)``.
    B : float, optional
        Feature scale (``theta_star`` must land in ``[-1, 1]``).

    Returns
    -------
    Instance
        ``data`` is :math:`\pi_{\theta_\star}`; ``model_class`` holds :math:`\theta_0 = 0`;
        ``params["box"] = [-1, 1]``.

    Examples
    --------
    >>> inst = rare_token_instance(64)
    >>> round(float(np.exp(inst.data.log_prob([0], [[1] + [0] * 63])[0])), 6) > 0
    True
    """
    H = _horizon(H)
    rate = check_real(rate, "rate", low=0.0, high=H, low_open=True, high_open=True)
    B = _pos(B, "B")
    p = rate / H
    theta_star = float(np.log(p / (1 - p)) / B)
    if not -1.0 <= theta_star <= 1.0:
        raise ValueError(f"theta_star = {theta_star:.3g} lies outside [-1, 1]; increase `B`.")
    features = iid_token_features(np.array([[[0.0], [B]]]), H)
    data = AutoregressiveLinearModel(features, np.array([theta_star]))
    start = AutoregressiveLinearModel(features, np.zeros(1))
    return Instance("rare_token_instance", "Theorem 5.1 (normalisation bias B/(K log N))",
                    data=data, model_class=start,
                    params={"H": H, "rate": rate, "B": B, "theta_star": theta_star,
                            "box": [-1.0, 1.0], "theta_init": [0.0]})


def rare_event_instance(H, *, rate=0.25, start_rate=11.0, B=1.0):
    r"""A rare token among ``m`` interchangeable common ones: Theorem 5.1's bound is non-vacuous on it.

    One prompt, ``d = 1``, :math:`\Theta = [-1, 1] = B_2(1)`, vocabulary ``{0, 1, ..., m}``:
    token ``0`` (the *rare event*) has feature :math:`+B`, tokens ``1..m`` feature :math:`-B`,
    so :math:`\|\phi\| = B` (Assumption 2.2) and

    .. math:: q_\theta := \pi_\theta(y_h = 0) = \frac{1}{1 + m\,e^{-2B\theta}}
              = \mathrm{expit}(2B\theta - \log m).

    The multiplicity ``m`` and the two parameters solve

    .. math:: q_{\theta_\star} = \frac{c}{H},\qquad q_{\theta_0} = \frac{a_0}{H},\qquad
              \log m = \mathrm{round}\Big(-\tfrac12\big(\mathrm{logit}\tfrac cH
              + \mathrm{logit}\tfrac{a_0}H\big)\Big)

    (``m`` rounded to an integer, then :math:`\theta_\star`, :math:`\theta_0` solved exactly,
    nearly symmetric about 0).  So under :math:`\pi_D = \pi_{\theta_\star}` (Assumption 2.1)
    the number of rare tokens in a sequence is :math:`\mathrm{Bin}(H, c/H)`, under
    :math:`\pi_{\theta_0}` it is :math:`\mathrm{Bin}(H, a_0/H)`: both tend to Poisson laws and
    the instance is the same at every ``H`` up to :math:`O(1/H)`.  [derived]

    * Inherent variance (Eq. (6) ICLR / (8) arXiv), i.i.d. tokens:
      :math:`\sigma_\star^2 = H\,(2B)^2\,\frac cH(1 - \frac cH) = 4B^2c(1 - c/H)`, bounded in ``H``
      (``params["sigma_sq"]``).
    * The log density ratio of a sequence with ``n`` rare tokens against :math:`\pi_\theta`
      depends on ``n`` only, :math:`Z = n\log\frac{c/H}{q_\theta} + (H - n)\log\frac{1 - c/H}{1 - q_\theta}`;
      at the start :math:`Z \to (a_0 - c) - n\log(a_0/c)`, so for :math:`a_0 - c > \log N`
      the start covers most sequences (``Cov_N`` near 1: :math:`P(\mathrm{Poisson}(c) \le n_N)`
      with :math:`n_N = \lfloor (a_0 - c - \log N)/\log(a_0/c)\rfloor`).
    * The score of a sequence is :math:`2B(n - Hq_\theta)`: of order :math:`B a_0` along the
      path, whatever ``H``.  Normalized SGD's steps therefore do not depend on ``H``, while
      vanilla SGD's step :math:`\eta \le 1/(2HB^2)` (Prop. 5.1) does.
    * Why the common tokens: with two tokens (``m = 1``) a rare token of probability
      :math:`c/H` needs a logit gap :math:`|\mathrm{logit}(c/H)| \le 2B`, i.e. :math:`H \lesssim
      ce^{2B}` (12 at ``B = 1``); the ``m`` copies supply the gap :math:`\log m` through the
      vocabulary, not the parameter, so ``B`` stays small (Theorem 5.1's constants are
      polynomial in ``B``).  The vocabulary grows like ``H``; everything that matters depends
      on the token counts of the two classes only (:class:`simulations.learners.pooled.TokenClasses`
      lumps them exactly).

    Parameters
    ----------
    H : int
        Sequence length.
    rate : float, optional
        :math:`c`, the expected number of rare tokens per sequence under :math:`\pi_D`, in ``(0, H)``.
    start_rate : float, optional
        :math:`a_0 > c`, the same under the initial model :math:`\pi_{\theta_0}`, in ``(c, H)``.
    B : float, optional
        Feature norm :math:`B > 0`.

    Returns
    -------
    Instance
        ``data`` = :math:`\pi_{\theta_\star}` (``V = m + 1`` tokens); ``model_class`` holds
        :math:`\theta_0`; ``params`` has ``m``, ``theta_star``, ``theta_init``, ``sigma_sq``,
        ``radius = 1`` and ``classes`` (class features ``[[B], [-B]]``, multiplicities ``[1, m]``).

    Raises
    ------
    ValueError
        If :math:`\theta_\star` or :math:`\theta_0` falls outside ``[-1, 1]``
        (:math:`\log(a_0/c)` too large for ``B``), or the rates are out of range.

    Examples
    --------
    >>> inst = rare_event_instance(256)
    >>> inst.params["m"], round(inst.params["theta_star"], 4), round(inst.params["theta_init"][0], 4)
    (151, -0.9566, 0.957)
    >>> round(inst.params["sigma_sq"], 6)            # 4 B^2 c (1 - c/H)
    0.999023
    """
    H = _horizon(H)
    B = _pos(B, "B")
    c = check_real(rate, "rate", low=0.0, high=H, low_open=True, high_open=True)
    a0 = check_real(start_rate, "start_rate", low=c, high=H, low_open=True, high_open=True)
    lc, la = np.log(c / (H - c)), np.log(a0 / (H - a0))                  # logit(c/H), logit(a0/H)
    m = max(1, int(round(np.exp(-0.5 * (lc + la)))))
    log_m = np.log(m)
    theta_star, theta0 = (lc + log_m) / (2 * B), (la + log_m) / (2 * B)
    for name, v in (("theta_star", theta_star), ("theta_init", theta0)):
        if not -1.0 <= v <= 1.0:
            raise ValueError(f"{name} = {v:.4g} lies outside Theta = [-1, 1]: log(start_rate/rate) = "
                             f"{np.log(a0 / c):.3g} needs 4 B >= it (B = {B:g}); increase `B` or reduce "
                             "the ratio.")
    # the tabular features hold one row per (previous token, token): (m + 2)(m + 1) floats
    check_allocation(8 * (m + 2) * (m + 1), f"the feature table of the m + 1 = {m + 1} tokens of `H` = {H}",
                     "use a smaller `H` (the vocabulary grows like H)")
    table = np.full((1, m + 1, 1), -B)
    table[0, 0, 0] = B
    features = iid_token_features(table, H)
    data = AutoregressiveLinearModel(features, np.array([theta_star]))
    start = AutoregressiveLinearModel(features, np.array([theta0]))
    p = c / H
    return Instance("rare_event_instance",
                    "Theorem 5.1 (Eq. (11) ICLR / (19) arXiv): a non-vacuous instance at small B",
                    data=data, model_class=start,
                    params={"H": H, "B": B, "rate": c, "start_rate": a0, "m": m, "radius": 1.0,
                            "theta_star": float(theta_star), "theta_init": [float(theta0)],
                            "sigma_sq": float(4 * B ** 2 * H * p * (1 - p)),
                            "classes": {"features": [[B], [-B]], "multiplicity": [1, m]}})
