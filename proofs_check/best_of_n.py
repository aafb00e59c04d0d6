"""Best-of-N steps: Props. F.6/F.7 (ICLR) = D.6/D.7 (arXiv), the derived Pass@N bounds, pass@k."""

import sympy as sp

from ._core import assert_identity, assert_true_by_assumptions, check, prove_nonnegative

u = sp.Symbol("u", nonnegative=True)
m = sp.Symbol("m", nonnegative=True)


@check("bon_union_bound", "Prop. F.7 / D.7")
def bon_union_bound():
    """1 - (1 - p)^N <= N p for p in [0, 1], N >= 1.

    1 - p = e^{-u}, N = 1 + m: F = N(1 - e^{-u}) - 1 + e^{-uN} >= 0 by derivatives in u.
    """
    N = 1 + m
    F = N * (1 - sp.exp(-u)) - 1 + sp.exp(-u * N)
    prove_nonnegative(F, [u, m], what="N p - 1 + (1-p)^N")
    return "1 - (1-p)^N <= N p"


@check("bon_exponential_bound", "derived: 1 - Pass@N <= Cov_M + e^{-N/M}")
def bon_exponential_bound():
    """(1 - 1/M)^N <= e^{-N/M}: log(1 - x) <= -x on [0, 1) (1 - x = e^{-u}), times N >= 0."""
    prove_nonnegative(u - (1 - sp.exp(-u)), [u], what="-x - log(1-x)")
    N, M = sp.symbols("N M", positive=True)
    assert_identity(sp.expand_log(sp.log((1 - 1 / M) ** N), force=True), N * sp.log(1 - 1 / M),
                    "log of the power")
    return "N log(1 - 1/M) <= -N/M"


@check("bon_sandwich_monotone", "derived: deterministic-target sandwich")
def bon_sandwich_monotone():
    """(1 - q)^N is non-increasing in q on [0, 1]: (1-q)^N >= (1 - 1/M)^N when q <= 1/M.

    d/dq (1-q)^N = -N (1-q)^{N-1}; with 1 - q = e^{-u} this is -N e^{-u(N-1)} <= 0.  So the
    prompts with q_x <= 1/M (coverage mass) fail with probability >= (1-1/M)^N and the others
    with probability <= (1-1/M)^N.
    """
    q = sp.Symbol("q", positive=True)
    N = sp.Symbol("N", positive=True)
    d = sp.diff((1 - q) ** N, q)
    assert_identity(d, -N * (1 - q) ** (N - 1), "derivative")
    assert_true_by_assumptions((N * sp.exp(-u * (N - 1))).is_positive, "N (1-q)^{N-1} > 0")
    return "(1-q)^N decreasing in q"


@check("bon_sufficiency_budget", "Prop. F.6 / D.6 (budget step)")
def bon_sufficiency_budget():
    """With N = M log(1/eps)(1 + v), v >= 0: e^{-N/M} = eps^{1+v} <= eps."""
    v = sp.Symbol("v", nonnegative=True)
    M = sp.Symbol("M", positive=True)
    eps = sp.exp(-u)                     # eps in (0, 1]
    Nb = M * u * (1 + v)                 # M log(1/eps)(1+v)
    assert_identity(sp.exp(-Nb / M), eps ** (1 + v), "exp(-N/M)")
    prove_nonnegative(sp.expand(eps - sp.exp(-Nb / M)), [v], what="eps - eps^{1+v}")
    return "N >= M log(1/eps) gives e^{-N/M} <= eps"


@check("f7_necessity_steps", "Prop. F.7 / D.7")
def f7_necessity_steps():
    """With S = {pi_T/pi >= 2N}: pi(S) <= pi_T(S)/(2N), so N pi(S) <= pi_T(S)/2 and the gap >= pi_T(S)/2.

    pi(S) = pi_T(S)/(2N) - w (w >= 0): pi_T(S)/2 - N pi(S) = N w >= 0; the reward gap
    pi_T(S) - (1 - (1 - pi(S))^N) >= pi_T(S) - N pi(S) >= pi_T(S)/2 = Cov_{2N}/2.
    """
    T, N = sp.symbols("T N", positive=True)
    w = sp.Symbol("w", nonnegative=True)
    pi_s = T / (2 * N) - w
    assert_identity(T / 2 - N * pi_s, N * w, "N pi(S) <= pi_T(S)/2")
    assert_identity((T - N * pi_s) - T / 2, N * w, "gap >= pi_T(S)/2")
    assert_true_by_assumptions((N * w).is_nonnegative, "N w >= 0")
    return "BoN success on S <= N pi(S) <= pi_T(S)/2"


@check("pass_at_k_product", "pass@k estimator (Chen et al. 2021)")
def pass_at_k_product():
    """C(n-c, k)/C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i): base c = 0 and induction step in c.

    Step: C(n-c-1, k)/C(n-c, k) = 1 - k/(n-c), the factor i = n - c.  Also checked in full for
    c = 3 with symbolic n, k.
    """
    n, k, c = sp.symbols("n k c", positive=True)
    step = sp.gammasimp(sp.binomial(n - c - 1, k) / sp.binomial(n - c, k))
    assert_identity(step, 1 - k / (n - c), "induction step")
    assert_identity(sp.gammasimp(sp.binomial(n, k) / sp.binomial(n, k)), 1, "base case c = 0")
    c3 = sp.gammasimp(sp.binomial(n - 3, k) / sp.binomial(n, k))
    prod = sp.prod([1 - k / i for i in (n - 2, n - 1, n)])
    assert_identity(c3, prod, "c = 3")
    return "binomial ratio = product of (1 - k/i)"
