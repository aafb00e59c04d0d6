"""KL-to-coverage: Prop. 3.1, Props. F.1/F.2/F.3 (ICLR) = D.1/D.2/D.3 (arXiv)."""

import sympy as sp

from ._core import assert_identity, assert_true_by_assumptions, check, prove_nonnegative

x = sp.Symbol("x", positive=True)
u = sp.Symbol("u", nonnegative=True)
m = sp.Symbol("m", nonnegative=True)
N = sp.Symbol("N", positive=True)


def _f(t):
    return t * sp.log(t) - t + 1


@check("f_convex_normalised", "Prop. F.1 / D.1")
def f_convex_normalised():
    """f(x) = x log x - x + 1: f(1) = f'(1) = 0 and f'' = 1/x > 0 (convex on x > 0)."""
    f = _f(x)
    assert_identity(f.subs(x, 1), 0, "f(1) = 0")
    assert_identity(sp.diff(f, x).subs(x, 1), 0, "f'(1) = 0")
    f2 = sp.diff(f, x, 2)
    assert_identity(f2, 1 / x, "f'' = 1/x")
    assert_true_by_assumptions(sp.simplify(f2).is_positive, "f'' > 0 for x > 0")
    return "f(1)=f'(1)=0, f''=1/x>0"


@check("f1_constant", "Prop. F.1 / D.1")
def f1_constant():
    """N / f(N) = 1 / (log N - 1 + 1/N): the denominator of the sharp bound."""
    assert_identity(N / _f(N), 1 / (sp.log(N) - 1 + 1 / N))
    return "N/f(N) = 1/(log N - 1 + 1/N)"


@check("f_over_x_monotone", "Prop. F.1 / D.1")
def f_over_x_monotone():
    """f(x)/x is non-decreasing on x >= 1, so f(r) >= r f(N)/N on {r >= N}; also f >= 0.

    d/dx[f(x)/x] = (x - 1)/x^2; with x = 1 + m (m >= 0) this is m/(1+m)^2 >= 0.  And
    f(1+m) >= 0 for m >= 0 by the derivative argument (f'(x) = log x).
    """
    g = sp.diff(_f(x) / x, x)
    assert_identity(g, (x - 1) / x ** 2, "d/dx f(x)/x")
    prove_nonnegative(g.subs(x, 1 + m), what="(x-1)/x^2 on x >= 1")
    trace = prove_nonnegative(_f(1 + m), [m], what="f(x) on x >= 1")
    # on 0 < x <= 1 write x = exp(-u): f = 1 - e^{-u}(1 + u) >= 0
    prove_nonnegative(sp.expand(_f(sp.exp(-u))), [u], what="f(x) on 0 < x <= 1")
    return f"(f/x)' = (x-1)/x^2 >= 0 on x >= 1; f >= 0 ({len(trace)} proof steps)"


@check("prop31_pointwise", "Prop. 3.1")
def prop31_pointwise():
    """(a - 1) 1{z >= a} <= z + e^{-z} - 1 for a >= 0, all real z; and log N - 1 = log(N/e).

    g(z) = z + e^{-z} - 1 >= 0 everywhere (z = u >= 0 and z = -u); on z = a + u >= a:
    g(z) - (a - 1) = u + e^{-(a+u)} >= 0.  With E_{pi_D} e^{-Z} <= 1 this gives
    (log N - 1) Cov_N <= KL.
    """
    a = sp.Symbol("a", nonnegative=True)

    def g(z):
        return z + sp.exp(-z) - 1

    prove_nonnegative(g(u), [u], what="g(z), z >= 0")
    prove_nonnegative(g(-u), [u], what="g(z), z <= 0")
    prove_nonnegative(g(a + u) - (a - 1), [u], what="g(z) - (a-1) on z >= a")
    assert_identity(sp.expand_log(sp.log(N / sp.E), force=True), sp.log(N) - 1, "log(N/e)")
    return "g >= 0 on R, g(z) >= a - 1 on z >= a, log(N/e) = log N - 1"


def _bernoulli_kl(p, n):
    q = p / n
    return p * sp.log(p / q) + (1 - p) * sp.log((1 - p) / (1 - q))


@check("bernoulli_witness_kl", "Prop. F.2 / D.2")
def bernoulli_witness_kl():
    """KL(Ber(p) || Ber(p/N)) = p log N + (1-p) log((1-p)/(1-p/N)); Cov_N = p (ratio exactly N)."""
    p = sp.Symbol("p", positive=True)
    kl_def = sum(a * sp.log(a / b) for a, b in [(p, p / N), (1 - p, 1 - p / N)])
    closed = p * sp.log(N) + (1 - p) * sp.log((1 - p) / (1 - p / N))
    assert_identity(sp.expand_log(kl_def - closed, force=True), 0, "closed form")
    assert_identity(p / (p / N), N, "ratio at outcome 1 is exactly N")
    return "KL closed form; ratio N at outcome 1"


@check("f2_inequality", "Prop. F.2 / D.2")
def f2_inequality():
    """On the witness with p <= 1/2, N >= 2: KL <= p (log N - 1/2 + 1/(2N)), i.e. Cov_N >= KL/(...).

    Write t = -p(1 - 1/N)/(1 - p/N) so that (1-p)/(1-p/N) = 1 + t.  Then
    KL - p(log N - 1/2 + 1/(2N)) = (1-p)[log(1+t) - t] - p(1 - 1/N)[(1-p)/(1-p/N) - 1/2],
    log(1+t) <= t, and (1-p)/(1-p/N) - 1/2 = (N - p(2N-1))/(2(N-p)) >= 0 for p <= N/(2N-1),
    in particular for p <= 1/2.
    """
    p = sp.Symbol("p", positive=True)
    t = -p * (1 - 1 / N) / (1 - p / N)
    assert_identity(1 + t, (1 - p) / (1 - p / N), "1 + t")
    # KL = p log N + (1-p) ell with ell = log((1-p)/(1-p/N)) = log(1+t), kept as a symbol
    ell = sp.Symbol("ell", real=True)
    kl = p * sp.log(N) + (1 - p) * ell
    # p = 1/(1+w), N = 1 + m make 1 - p and 1 - p/N manifestly positive for the log algebra
    w = sp.Symbol("w", positive=True)
    sub = {p: 1 / (1 + w), N: 1 + m}
    assert_identity(sp.expand_log(sp.simplify((_bernoulli_kl(p, N) - kl.subs(ell, sp.log(1 + t))).subs(sub)),
                                  force=True), 0, "KL in terms of log(1+t)")
    lhs = kl - p * (sp.log(N) - sp.Rational(1, 2) + 1 / (2 * N))
    rhs = (1 - p) * (ell - t) - p * (1 - 1 / N) * ((1 + t) - sp.Rational(1, 2))
    assert_identity(lhs, rhs, "decomposition")
    # log(1 + t) <= t for t > -1: with 1 + t = e^{-u} (u >= 0, t <= 0 here): e^{-u} - 1 + u >= 0
    prove_nonnegative(sp.exp(-u) - 1 + u, [u], what="t - log(1+t), t in (-1, 0]")
    # the bracket: p = N/(2N-1) * 1/(1+w) with w >= 0 covers (0, N/(2N-1)]; N = 1 + m, m > 0
    w = sp.Symbol("w", nonnegative=True)  # noqa: F841 (re-declared: now w >= 0)
    n = 1 + sp.Symbol("m", positive=True)      # N > 1
    bracket = ((1 - p) / (1 - p / N) - sp.Rational(1, 2)).subs(p, n / (2 * n - 1) / (1 + w)).subs(N, n)
    prove_nonnegative(sp.factor(sp.simplify(bracket)), what="(1-p)/(1-p/N) - 1/2")
    # 1/2 <= N/(2N-1) for N >= 1, so p <= 1/2 is inside the range
    prove_nonnegative(sp.simplify(n / (2 * n - 1) - sp.Rational(1, 2)), what="N/(2N-1) - 1/2")
    return "KL <= p(log N - 1/2 + 1/(2N)) for p <= N/(2N-1), N > 1"


@check("f1_attained_by_witness", "Props. F.1/F.2 / D.1/D.2")
def f1_attained_by_witness():
    """lim_{p -> 0} KL(Ber(p)||Ber(p/N))/p = log N - 1 + 1/N: Cov_N = p attains Prop. F.1 in the limit."""
    p = sp.Symbol("p", positive=True)
    lim = sp.limit(_bernoulli_kl(p, N) / p, p, 0, "+")
    assert_identity(lim, sp.log(N) - 1 + 1 / N, "limit")
    return "KL/p -> log N - 1 + 1/N"


@check("f3_tail_integral", "Prop. F.3 / D.3")
def f3_tail_integral():
    """int_0^C 1 dt + int_C^L C/t dt = C (1 + log(L/C)), with P[Z >= t] <= min(1, C/t)."""
    C, L, tt = sp.symbols("C L t", positive=True)
    total = sp.integrate(1, (tt, 0, C)) + sp.integrate(C / tt, (tt, C, L))
    assert_identity(sp.expand_log(total - C * (1 + sp.log(L / C)), force=True), 0)
    return "tail integral = C(1 + log(L/C))"


@check("f3_witness_sharpness", "Prop. F.3 / D.3 [derived witness]")
def f3_witness_sharpness():
    """K(1 - e^{-u/K}) >= u - u^2/(2K): the geometric witness attains F.3 up to u^2/(2K(1+u)).

    With y = u/K: 1 - e^{-y} - y + y^2/2 >= 0 for y >= 0 (derivative argument, twice).
    """
    y = sp.Symbol("y", nonnegative=True)
    prove_nonnegative(1 - sp.exp(-y) - y + y ** 2 / 2, [y], what="1 - e^{-y} - y + y^2/2")
    K = sp.Symbol("K", positive=True)
    assert_identity(K * (u / K - (u / K) ** 2 / 2), u - u ** 2 / (2 * K), "rescaling")
    return "K(1 - r^{-1}) >= log(L/C) - log(L/C)^2/(2K)"
