"""Hellinger steps: Prop. F.4 / D.4, Prop. F.11 / D.11, Lemma J.1, the finite-class MLE bound."""

import sympy as sp

from ._core import assert_identity, assert_true_by_assumptions, check, prove_nonnegative

u = sp.Symbol("u", nonnegative=True)


@check("f4_pointwise", "Prop. F.4 / D.4")
def f4_pointwise():
    """On {r = pi_D/pi >= N}: (1 - r^{-1/2})^2 >= (1 - N^{-1/2})^2, and the constant.

    a = r^{-1/2} = 1/(1+beta+gamma) <= b = N^{-1/2} = 1/(1+beta) <= 1 (beta, gamma >= 0);
    (1/2)(sqrt p - sqrt q)^2 = (1/2) p (1 - (q/p)^{1/2})^2, so
    D_H^2 >= (1/2)(1 - N^{-1/2})^2 Cov_N and 2/(1 - N^{-1/2})^2 = 2N/(sqrt N - 1)^2.
    """
    beta, gamma = sp.symbols("beta gamma", nonnegative=True)
    a = 1 / (1 + beta + gamma)
    b = 1 / (1 + beta)
    prove_nonnegative(sp.factor(sp.simplify((1 - a) ** 2 - (1 - b) ** 2)), [gamma],
                      what="(1-a)^2 - (1-b)^2 for a <= b <= 1")
    p, q, N = sp.symbols("p q N", positive=True)
    assert_identity(sp.Rational(1, 2) * (sp.sqrt(p) - sp.sqrt(q)) ** 2,
                    sp.Rational(1, 2) * p * (1 - sp.sqrt(q / p)) ** 2, "pointwise Hellinger term")
    assert_identity(2 / (1 - 1 / sp.sqrt(N)) ** 2, 2 * N / (sp.sqrt(N) - 1) ** 2, "constant")
    return "(1 - r^-1/2)^2 >= (1 - N^-1/2)^2 on r >= N; constant 2N/(sqrt N - 1)^2"


@check("bhattacharyya_identity", "Props. F.8/F.11 / D.8/D.11")
def bhattacharyya_identity():
    """sum sqrt(p q) = 1 - (1/2) sum (sqrt p - sqrt q)^2 for normalised p, q (three points).

    With s_i = sqrt(p_i), t_i = sqrt(q_i) and s_3, t_3 eliminated by normalisation; this is
    E_{pi_D}[sqrt(pi/pi_D)] = 1 - D_H^2 (one-half convention), the martingale step of F.11
    and the Chernoff step of the MLE bound.
    """
    s1, s2, t1, t2 = sp.symbols("s1 s2 t1 t2", positive=True)
    s3 = sp.sqrt(1 - s1 ** 2 - s2 ** 2)
    t3 = sp.sqrt(1 - t1 ** 2 - t2 ** 2)
    s, t = [s1, s2, s3], [t1, t2, t3]
    bc = sum(a * c for a, c in zip(s, t))
    h2 = sp.Rational(1, 2) * sum((a - c) ** 2 for a, c in zip(s, t))
    assert_identity(bc, 1 - h2)
    p1 = sp.Symbol("p1", positive=True)
    q1 = sp.Symbol("q1", positive=True)
    assert_identity(p1 * sp.sqrt(q1 / p1), sp.sqrt(p1 * q1), "E_pD sqrt(pi/pi_D) term")
    return "BC = 1 - D_H^2"


@check("one_minus_x_le_exp", "Props. F.8/F.11 / D.8/D.11")
def one_minus_x_le_exp():
    """1 - x <= e^{-x} for all real x (x = u and x = -u, u >= 0), so (1 - D^2)^n <= e^{-n D^2}."""
    prove_nonnegative(sp.exp(-u) - (1 - u), [u], what="e^{-x} - 1 + x, x >= 0")
    prove_nonnegative(sp.exp(u) - (1 + u), [u], what="e^{-x} - 1 + x, x <= 0")
    return "e^{-x} >= 1 - x on R"


@check("mle_union_bound", "Prop. F.8 / D.8 (finite class)")
def mle_union_bound():
    """|Pi| e^{-n D} = delta exactly at D = log(|Pi|/delta)/n, and it decreases in D.

    Hence, if every pi with D_H^2(pi_D, pi) > log(|Pi|/delta)/n has
    P[L(pi) >= L(pi_D)] <= E e^{(L(pi) - L(pi_D))/2} = (1 - D_H^2)^n <= e^{-n D_H^2},
    a union bound over Pi leaves probability <= delta for the MLE to be such a pi.
    """
    n, K, delta = sp.symbols("n K delta", positive=True)
    D = sp.Symbol("D", positive=True)
    bound = sp.log(K / delta) / n
    assert_identity(sp.simplify(K * sp.exp(-n * bound)), delta, "equality at the bound")
    deriv = sp.diff(K * sp.exp(-n * D), D)
    assert_identity(deriv, -n * K * sp.exp(-n * D), "derivative")
    assert_true_by_assumptions((-deriv).is_positive, "K e^{-nD} is decreasing in D")
    return "K exp(-n log(K/delta)/n) = delta; decreasing in D"


@check("lemma_j1_pointwise", "Lemma J.1")
def lemma_j1_pointwise():
    """E exp(max(log r, -C)/2) <= c a + sqrt(1 - a) <= 1 when c = e^{-C/2} <= 1/2.

    a = pi_D(r < e^{-C}); Cauchy–Schwarz (two-term Lagrange identity below) bounds the rest
    by sqrt(1-a).  With c = 1/2 - e (e >= 0) and sqrt(1-a) = s = 1/(1+t) (t >= 0):
    1 - c a - s = (1/2)(1-s)^2 + e(1-s^2) >= 0.
    """
    e, t = sp.symbols("e t", nonnegative=True)
    s = 1 / (1 + t)
    c = sp.Rational(1, 2) - e
    a = 1 - s ** 2
    gap = 1 - c * a - s
    assert_identity(gap, sp.Rational(1, 2) * (1 - s) ** 2 + e * (1 - s ** 2), "decomposition")
    prove_nonnegative(sp.factor(sp.simplify(gap)), what="1 - c a - sqrt(1-a)")
    p1, p2, q1, q2 = sp.symbols("p1 p2 q1 q2", positive=True)
    assert_identity((p1 + p2) * (q1 + q2) - (sp.sqrt(p1 * q1) + sp.sqrt(p2 * q2)) ** 2,
                    (sp.sqrt(p1 * q2) - sp.sqrt(p2 * q1)) ** 2, "Cauchy-Schwarz (Lagrange)")
    return "c a + sqrt(1-a) <= 1 for c <= 1/2; Cauchy-Schwarz identity"


@check("lemma_j1_witness", "Lemma J.1 [derived witness]")
def lemma_j1_witness():
    """Witness value e^{-C/2} + e^{C/2}/4 = 1 + (e^{C/2} - 2)^2/(4 e^{C/2}): = 1 iff C = log 4.

    pi_D = (a, 1-a), pi = (0, 1), 1 - a = e^C/4: a e^{-C/2} + sqrt(1-a).
    """
    C = sp.Symbol("C", real=True)
    val = (1 - sp.exp(C) / 4) * sp.exp(-C / 2) + sp.sqrt(sp.exp(C) / 4)
    assert_identity(val, sp.exp(-C / 2) + sp.exp(C / 2) / 4, "witness value")
    assert_identity(val - 1, (sp.exp(C / 2) - 2) ** 2 / (4 * sp.exp(C / 2)), "excess over 1")
    assert_identity(val.subs(C, sp.log(4)), 1, "equality at log 4")
    assert_true_by_assumptions(sp.simplify((val - 1).subs(C, sp.log(4) - sp.Rational(1, 10))).is_positive,
                               "value > 1 at C = log 4 - 1/10")
    return "value = 1 + (e^{C/2}-2)^2/(4e^{C/2})"


@check("f11_threshold_algebra", "Prop. F.11 / D.11")
def f11_threshold_algebra():
    """On {Z < log N, S >= log(N/delta)}: -Z/2 + S - log(1/delta) = (log N - Z)/2 + (S - log(N/delta)) + (log N)/2 > 0.

    So the mean-one martingale exp(-Z/2)/prod_h(1 - D^2_h) >= exp(-Z/2 + S) >= 1/delta there,
    and Markov's inequality gives P <= delta (prod(1 - D_h^2) <= exp(-S) by 1 - x <= e^{-x}).
    """
    Z, S = sp.symbols("Z S", real=True)
    N, delta = sp.symbols("N delta", positive=True)
    lhs = -Z / 2 + S - sp.log(1 / delta)
    rhs = (sp.log(N) - Z) / 2 + (S - sp.log(N / delta)) + sp.log(N) / 2
    assert_identity(sp.expand_log(lhs - rhs, force=True), 0)
    a, b = sp.symbols("a b", positive=True)     # log N - Z = a > 0, S - log(N/delta) = b >= 0
    m = sp.Symbol("m", nonnegative=True)        # log N = m >= 0
    assert_true_by_assumptions((a / 2 + b + m / 2).is_positive, "sum of the three terms")
    return "-Z/2 + S >= log(1/delta) + (log N)/2 on the event"
