"""Autoregressive linear models: score, Hessian, smoothness; normalized SGD; Lemma K.4."""

import itertools

import sympy as sp

from ._core import assert_identity, assert_true_by_assumptions, check

V, D = 3, 2
theta = sp.symbols("theta1:%d" % (D + 1), real=True)


def _feats(tag):
    """Symbolic features phi[v][j] of the V candidates at one position."""
    return [[sp.Symbol(f"{tag}_{v}{j}", real=True) for j in range(D)] for v in range(V)]


def _log_softmax(phi, y):
    logits = [sum(t * f for t, f in zip(theta, phi[v])) for v in range(V)]
    return logits[y] - sp.log(sum(sp.exp(lg) for lg in logits)), [sp.exp(lg) for lg in logits]


@check("alm_score", "Section 2.4 (Eq. (3)); score used in Thm 4.2 / Prop. 5.1")
def alm_score():
    """grad_theta log pi_theta(y|x) = sum_h (phi(x, y_{1:h}) - E_{pi_theta} phi), H = 2.

    The second position's candidate features depend on the first token (a genuine prefix
    dependence); the path is y = (0, 1).
    """
    phi1, phi2 = _feats("a"), _feats("b")          # phi2: features after y_1 = 0
    l1, w1 = _log_softmax(phi1, 0)
    l2, w2 = _log_softmax(phi2, 1)
    logp = l1 + l2
    for j in range(D):
        mean1 = sum(w1[v] * phi1[v][j] for v in range(V)) / sum(w1)
        mean2 = sum(w2[v] * phi2[v][j] for v in range(V)) / sum(w2)
        assert_identity(sp.diff(logp, theta[j]), (phi1[0][j] - mean1) + (phi2[1][j] - mean2),
                        f"coordinate {j}")
    return "score = sum_h (phi - E phi)"


@check("alm_hessian", "Section 2.4; smoothness in Prop. 5.1 / Thm 5.1")
def alm_hessian():
    """Hessian of log pi_theta(y_h|...) = -Cov_{pi_theta}[phi] (one position, V = 3, d = 2)."""
    phi = _feats("a")
    lp, w = _log_softmax(phi, 2)
    Z = sum(w)
    for i, j in itertools.product(range(D), repeat=2):
        e_ij = sum(w[v] * phi[v][i] * phi[v][j] for v in range(V)) / Z
        e_i = sum(w[v] * phi[v][i] for v in range(V)) / Z
        e_j = sum(w[v] * phi[v][j] for v in range(V)) / Z
        assert_identity(sp.diff(lp, theta[i], theta[j]), -(e_ij - e_i * e_j), f"entry {i}{j}")
    return "Hessian = -Cov[phi]"


@check("alm_smoothness", "Section 2.4: -H B^2 I <= Hessian <= 0")
def alm_smoothness():
    """0 <= v'Cov[phi]v <= E[(v'phi)^2] <= |v|^2 B^2 per position; sum over H positions gives H B^2.

    v'Cov v = E[(v'(phi - E phi))^2] (a weighted sum of squares, p_v >= 0);
    E[(v'phi)^2] - v'Cov v = (E v'phi)^2; and |v|^2|phi|^2 - (v'phi)^2 = (v1 phi2 - v2 phi1)^2
    (Lagrange identity, d = 2) with |phi| <= B.
    """
    p = sp.symbols("p0:%d" % V, positive=True)
    vv = sp.symbols("v1:%d" % (D + 1), real=True)
    phi = _feats("a")
    a = [sum(vi * fi for vi, fi in zip(vv, phi[k])) for k in range(V)]   # v'phi per candidate
    tot = sum(p)
    mean = sum(pk * ak for pk, ak in zip(p, a)) / tot
    quad = sum(pk * ak ** 2 for pk, ak in zip(p, a)) / tot - mean ** 2     # v'Cov v
    centred = sum(pk * (ak - mean) ** 2 for pk, ak in zip(p, a)) / tot
    assert_identity(quad, centred, "quadratic form = weighted sum of squares")
    assert_true_by_assumptions(sp.Add(*[pk * sp.Symbol(f"sq{k}", nonnegative=True) for k, pk in enumerate(p)])
                               .is_nonnegative, "sum of p_k (square_k) >= 0")
    assert_identity(sum(pk * ak ** 2 for pk, ak in zip(p, a)) / tot - quad, mean ** 2, "E(v'phi)^2 - v'Cov v")
    f = phi[0]
    assert_identity((vv[0] ** 2 + vv[1] ** 2) * (f[0] ** 2 + f[1] ** 2) - (vv[0] * f[0] + vv[1] * f[1]) ** 2,
                    (vv[0] * f[1] - vv[1] * f[0]) ** 2, "Lagrange identity")
    return "0 <= v'Cov v <= |v|^2 B^2"


@check("normalized_sgd_step", "Thm 5.1 (normalized SGD, Eq. (10) ICLR / (17) arXiv)")
def normalized_sgd_step():
    """|eta g/(lambda + |g|)| = eta |g|/(lambda + |g|) and eta - that = eta lambda/(lambda + |g|) > 0."""
    eta, lam = sp.symbols("eta lambda", positive=True)
    G = sp.Symbol("G", nonnegative=True)         # |g|
    g1, g2 = sp.symbols("g1 g2", real=True)
    step = [eta * gi / (lam + sp.sqrt(g1 ** 2 + g2 ** 2)) for gi in (g1, g2)]
    norm = sp.sqrt(sum(s ** 2 for s in step))
    assert_identity(norm, eta * sp.sqrt(g1 ** 2 + g2 ** 2) / (lam + sp.sqrt(g1 ** 2 + g2 ** 2)), "step norm")
    slack = eta - eta * G / (lam + G)
    assert_identity(slack, eta * lam / (lam + G), "eta - |step|")
    assert_true_by_assumptions(sp.simplify(slack).is_positive, "|step| < eta")
    return "|step| = eta |g|/(lambda + |g|) < eta"


@check("lemma_k4_truncation", "Lemma K.4 (Thm G.2 / 6.2 arXiv)")
def lemma_k4_truncation():
    """sum_h alpha_h eps_h = min{A, sum_h eps_h} for alpha_h = clip((A - S_{h-1})/eps_h, 0, 1).

    Per step, alpha_h eps_h = min(S_h, A) - min(S_{h-1}, A) in each of the three cases
    (S_h <= A; S_{h-1} <= A < S_h; S_{h-1} > A), then the sum telescopes to min(S_H, A)
    (A >= 0, S_0 = 0); checked for H = 4 with a generic function.
    """
    s = sp.Symbol("s", nonnegative=True)          # S_{h-1}
    e = sp.Symbol("e", positive=True)             # eps_h

    def alpha_eps(A, s_, e_):
        return sp.Min(1, sp.Max(0, (A - s_) / e_)) * e_

    def rhs(A, s_, e_):
        return sp.Min(s_ + e_, A) - sp.Min(s_, A)

    a = sp.Symbol("a", nonnegative=True)
    dpos = sp.Symbol("dpos", positive=True)
    # case 1: A = s + e + a
    assert_identity(alpha_eps(s + e + a, s, e), rhs(s + e + a, s, e), "case S_h <= A")
    # case 2: A = s + e/(1 + rho) (rho > 0, so S_{h-1} < A < S_h), and the boundary A = s
    rho = sp.Symbol("rho", positive=True)
    assert_identity(alpha_eps(s + e / (1 + rho), s, e), rhs(s + e / (1 + rho), s, e), "case S_{h-1} < A < S_h")
    assert_identity(alpha_eps(s, s, e), rhs(s, s, e), "case A = S_{h-1}")
    # case 3: s = A + d (d > 0)
    A = sp.Symbol("A", nonnegative=True)
    assert_identity(alpha_eps(A, A + dpos, e), rhs(A, A + dpos, e), "case S_{h-1} > A")
    m = sp.Function("m")
    S = sp.symbols("S0:5")
    tele = sum(m(S[h]) - m(S[h - 1]) for h in range(1, 5))
    assert_identity(tele, m(S[4]) - m(S[0]), "telescoping")
    assert_identity(sp.Min(0, A), 0, "min(S_0, A) = 0 for A >= 0")
    return "alpha_h eps_h = min(S_h,A) - min(S_{h-1},A); sum = min(A, S_H)"
