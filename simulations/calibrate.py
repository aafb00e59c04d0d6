r"""Check the stated false-fail rates of the binding claims over many seeds.

``python -m simulations calibrate --seeds 0-19 --quick [--only NAME ...] [--jobs J] [--out DIR]``
runs the chosen experiments once per root seed (each seed in its own store,
``DIR/seed-S/NAME``, so an interrupted calibration resumes where it stopped), collects every
binding claim's verdict per seed, and tests, per claim, whether the number of seeds at which
it FAILs is consistent with the false-fail rate the claim states (``Claim.false_fail_rate``):

.. math::

    \text{p-value} = P[\mathrm{Bin}(S, \bar\alpha) \ge k],

with :math:`S` the seeds at which the claim was decided (PASS/FAIL/UNDERPOWERED),
:math:`k` its FAILs and :math:`\bar\alpha` the mean stated rate over those seeds (for
``probability_claim`` the rate depends on the data).  A claim is
*inconsistent* when the p-value is below 0.01 (one-sided exact binomial test at 1%); a claim
stating rate 0 (exact evaluation) is inconsistent as soon as it fails once.  UNDERPOWERED
verdicts are counted apart (a design problem, not a false failure) and so are legacy claims,
which state no rate.  The result is written to ``DIR/calibration.md`` and
``DIR/calibration.json``.

Why at the top level of :mod:`simulations`: this is the ``calibrate`` command, a peer of
``run`` and ``reproduce``; it drives :func:`simulations.runner.run_experiment` over seeds, so
it sits above both the runner and :mod:`simulations.claims` (placing it inside
``claims/`` would make the claims import the runner that imports them).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

from scipy import stats

from simulations.claims import FAIL, NOT_RUN_IN_QUICK, UNDERPOWERED

__all__ = ["CalibrationRow", "parse_seeds", "calibrate", "calibration_rows", "format_calibration",
           "LEVEL"]

#: Level of the one-sided binomial test of each claim's failure count.
LEVEL = 0.01


@dataclasses.dataclass(frozen=True)
class CalibrationRow:
    """One binding claim over the seeds.

    Attributes
    ----------
    id : str
    kind : str
    seeds : int
        Seeds at which the claim was decided (not 'not run in quick').
    fails, underpowered : int
        Seeds with verdict FAIL / UNDERPOWERED.
    failing_seeds : tuple of int
    stated_rate : float or None
        Mean stated false-fail rate over the decided seeds (None for legacy claims).
    p_value : float or None
        :math:`P[\\mathrm{Bin}(S, \\bar\\alpha) \\ge k]`.
    consistent : bool or None
        ``p_value >= LEVEL`` (None without a stated rate).
    """

    id: str
    kind: str
    seeds: int
    fails: int
    underpowered: int
    failing_seeds: tuple
    stated_rate: object
    p_value: object
    consistent: object

    def to_dict(self):
        """Return a JSON-ready dict."""
        return dataclasses.asdict(self)


def parse_seeds(text):
    """``"0-19"``, ``"3,5,8"`` or ``"0-4,10"`` -> sorted list of distinct non-negative ints.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        On anything else, or an empty or decreasing range.
    """
    seeds = set()
    for part in str(text).split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ValueError(f"seeds must look like 0-19 or 3,5,8; got {text!r}") from None
        if a < 0 or b < a:
            raise ValueError(f"seeds must be non-negative ranges lo-hi with lo <= hi; got {part!r}")
        seeds.update(range(a, b + 1))
    return sorted(seeds)


def calibration_rows(claims_by_seed):
    """Per-claim rows from ``{seed: [Claim, ...]}`` (binding claims only).

    Parameters
    ----------
    claims_by_seed : dict[int, list of Claim]

    Returns
    -------
    list of CalibrationRow
        Sorted: inconsistent claims first, then underpowered ones, then any other claim that
        failed at some seed (e.g. legacy claims, which state no rate), then by id.
    """
    per_claim = {}
    for seed, claims in sorted(claims_by_seed.items()):
        for c in claims:
            if c.binding and c.verdict != NOT_RUN_IN_QUICK:
                per_claim.setdefault(c.id, []).append((seed, c))
    rows = []
    for cid, items in per_claim.items():
        fails = [s for s, c in items if c.verdict == FAIL]
        under = sum(c.verdict == UNDERPOWERED for _, c in items)
        rates = [c.false_fail_rate for _, c in items]
        if any(r is None for r in rates):
            rate = p_value = consistent = None
        else:
            rate = sum(rates) / len(rates)
            p_value = (1.0 if not fails else
                       float(stats.binomtest(len(fails), len(items), rate, alternative="greater").pvalue)
                       if rate > 0 else 0.0)
            consistent = p_value >= LEVEL
        rows.append(CalibrationRow(id=cid, kind=items[0][1].kind, seeds=len(items), fails=len(fails),
                                   underpowered=under, failing_seeds=tuple(fails), stated_rate=rate,
                                   p_value=p_value, consistent=consistent))
    rows.sort(key=lambda r: (r.consistent is not False, r.underpowered == 0, r.fails == 0, r.id))
    return rows


def format_calibration(rows, seeds):
    """Markdown table of :func:`calibration_rows` with a one-line summary first.

    Parameters
    ----------
    rows : list of CalibrationRow
    seeds : list of int

    Returns
    -------
    str
    """
    bad = [r for r in rows if r.consistent is False]
    under = [r for r in rows if r.underpowered]
    legacy = [r for r in rows if r.stated_rate is None]
    lines = [f"Calibration over seeds {seeds[0]}-{seeds[-1]} ({len(seeds)} seeds): {len(rows)} binding "
             f"claims; {len(bad)} with more failing seeds than their stated false-fail rate allows "
             f"(one-sided binomial test at {LEVEL:g}); {len(under)} underpowered at some seed; "
             f"{len(legacy)} legacy (no stated rate).", "",
             "| claim | kind | seeds | FAIL | UNDERPOWERED | failing seeds | stated rate | p-value | consistent |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r.id} | {r.kind} | {r.seeds} | {r.fails} | {r.underpowered} | "
            f"{', '.join(map(str, r.failing_seeds)) or '—'} | "
            f"{'—' if r.stated_rate is None else f'{r.stated_rate:.3g}'} | "
            f"{'—' if r.p_value is None else f'{r.p_value:.3g}'} | "
            f"{'—' if r.consistent is None else ('yes' if r.consistent else 'NO')} |")
    return "\n".join(lines) + "\n"


def calibrate(modules, seeds, *, quick, out_dir, executor=None, progress=False, log=None):
    """Run ``modules`` at every seed (resuming stored tasks) and return the calibration rows.

    Parameters
    ----------
    modules : sequence of module
        Experiment modules.
    seeds : sequence of int
        Root seeds.
    quick : bool
        Quick presets (else full).
    out_dir : path-like
        Stores go to ``out_dir/seed-S/NAME``; the summary to ``out_dir/calibration.{md,json}``.
    executor : object, optional
        As in :func:`simulations.runner.run_experiment`.
    progress : bool
        Progress bars.
    log : callable, optional
        Called with one line of text per finished run.

    Returns
    -------
    rows : list of CalibrationRow
    failed_runs : list of str
        ``"NAME seed S: reason"`` for runs whose tasks failed (their claims are missing).
    """
    from simulations.runner import run_experiment

    out_dir = pathlib.Path(out_dir)
    claims_by_seed, failed_runs = {}, []
    for seed in seeds:
        claims_by_seed[seed] = []
        for module in modules:
            config = module.Config.quick() if quick else module.Config.full()
            result = run_experiment(module, config, seed=seed, out_dir=out_dir / f"seed-{seed}",
                                    executor=executor, progress=progress)
            if result.failed_tasks:
                failed_runs.append(f"{module.NAME} seed {seed}: {len(result.failed_tasks)} task(s) failed")
                continue
            claims_by_seed[seed] += list(result.claims)
            if log is not None:
                blocking = [c.id for c in result.claims if c.blocking]
                log(f"seed {seed} {module.NAME}: {len(result.claims)} claims, "
                    f"{len(blocking)} not PASS{': ' + ', '.join(blocking) if blocking else ''} "
                    f"({result.elapsed:.1f} s, {result.n_resumed} task(s) resumed)")
    rows = calibration_rows(claims_by_seed)
    text = format_calibration(rows, list(seeds))
    if failed_runs:
        text += "\nRuns with failed tasks (claims missing):\n" + "".join(f"- {f}\n" for f in failed_runs)
    (out_dir / "calibration.md").write_text(text)
    (out_dir / "calibration.json").write_text(json.dumps(
        {"seeds": list(seeds), "quick": quick, "level": LEVEL, "failed_runs": failed_runs,
         "claims": [r.to_dict() for r in rows]}, indent=2, allow_nan=True) + "\n")
    return rows, failed_runs


