"""Density-ratio steps: the chain rule Prop. F.5 / D.5 and the Markov/L_p bound."""

import sympy as sp

from ._core import assert_identity, assert_true_by_assumptions, check, prove_nonnegative

u = sp.Symbol("u", nonnegative=True)


@check("chain_rule_case_split", "Prop. F.5 / D.5")
def chain_rule_case_split():
    """If pi_T/pi >= M1 and pi_T/pi_D < M2 then pi_D/pi > M1/M2 and pi_T < M2 pi_D.

    z1 = log(pi_T/pi_D) = log M2 - a (a > 0), z1 + z2 = log(pi_T/pi) = log M1 + b (b >= 0):
    z2 - log(M1/M2) = a + b > 0; and M2 pi_D - pi_T = M2 pi_D (1 - e^{-a}) >= 0.
    """
    pT, pD, p = sp.symbols("pi_T pi_D pi", positive=True)
    M1, M2 = sp.symbols("M1 M2", positive=True)
    assert_identity(sp.expand_log(sp.log(pT / p) - (sp.log(pT / pD) + sp.log(pD / p)), force=True), 0,
                    "log-ratio additivity")
    a = sp.Symbol("a", positive=True)
    b = sp.Symbol("b", nonnegative=True)
    z1 = sp.log(M2) - a
    z2 = sp.log(M1) + b - z1
    assert_identity(sp.expand_log(z2 - sp.log(M1 / M2), force=True), a + b, "z2 - log(M1/M2)")
    assert_true_by_assumptions((a + b).is_positive, "a + b > 0")
    gap = M2 * pD - pD * sp.exp(z1)
    assert_identity(gap, M2 * pD * (1 - sp.exp(-a)), "M2 pi_D - pi_T")
    prove_nonnegative(1 - sp.exp(-u), [u], what="1 - e^{-a}")
    return "ratio event splits; pi_T < M2 pi_D on the second case"


@check("markov_lp_pointwise", "Related work: Markov / L_p coverage [derived form]")
def markov_lp_pointwise():
    """1{r >= N} <= (r/N)^p for r > 0, p > 0: on r = N e^u (u >= 0), (r/N)^p - 1 = e^{pu} - 1 >= 0.

    Below N the indicator is 0 and (r/N)^p > 0.  And E_pi[(pi/pihat)^p] = sum pi^{1+p} pihat^{-p}.
    """
    p, N, r = sp.symbols("p N r", positive=True)
    assert_identity(((N * sp.exp(u)) / N) ** p, sp.exp(p * u), "(r/N)^p on r = N e^u")
    prove_nonnegative(sp.exp(p * u) - 1, [u], what="e^{pu} - 1")
    assert_true_by_assumptions(((r / N) ** p).is_positive, "(r/N)^p > 0")
    a = sp.symbols("a0:3", positive=True)
    q = sp.symbols("q0:3", positive=True)
    moment = sum(ai * (ai / qi) ** p for ai, qi in zip(a, q))
    assert_identity(sp.powsimp(sp.expand_power_base(moment, force=True), force=True),
                    sum(ai ** (1 + p) * qi ** (-p) for ai, qi in zip(a, q)), "moment identity")
    return "1{r >= N} <= (r/N)^p"
