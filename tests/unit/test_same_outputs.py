"""The same-outputs check (``tests/tools/same_outputs.py``) fails on any changed result and only then.

Tiny synthetic results folders: identical results with different wall-clock fields, task
order, ``meta.json`` and ``timings.jsonl`` pass; one changed number (in the last bit of a
float), a changed claim, a missing task or a missing experiment fail.
"""

import importlib.util
import json
import math
import pathlib

import pytest

_PATH = pathlib.Path(__file__).resolve().parents[1] / "tools" / "same_outputs.py"
_spec = importlib.util.spec_from_file_location("same_outputs_under_test", _PATH)
same_outputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(same_outputs)


def _task(cell, rep, value, **extra):
    records = [{"kind": "tally", "x": value, "cell": cell, "rep": rep, **extra}]
    return {"cell": cell, "rep": rep, "n": 1, "sha256": f"digest-{cell}-{rep}-{extra}",
            "records": records}


def _folder(root, tasks, claims, *, created="2026-01-01T00:00:00+00:00", worker="vm:1"):
    exp = root / "exp-a"
    exp.mkdir(parents=True)
    (exp / "records.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tasks))
    (exp / "claims.json").write_text(json.dumps(claims, indent=2))
    (exp / "meta.json").write_text(json.dumps({"created": created, "seed": 0}))
    (exp / "timings.jsonl").write_text(json.dumps({"cell": 0, "rep": 0, "elapsed": 1.0,
                                                   "cpu_seconds": 0.9, "worker": worker}) + "\n")
    return root


CLAIMS = [{"id": "exp-a/c", "measured": [0.25, 0.5], "verdict": "PASS"}]


def test_passes_when_only_wall_clock_fields_order_and_meta_differ(tmp_path):
    before = _folder(tmp_path / "b", [_task(0, 0, 0.1, elapsed=1.0), _task(1, 0, 0.2)], CLAIMS)
    after = _folder(tmp_path / "a", [_task(1, 0, 0.2), _task(0, 0, 0.1, elapsed=7.5)], CLAIMS,
                    created="2027-05-05T12:00:00+00:00", worker="other:9")
    names, diffs = same_outputs.compare_folders(before, after)
    assert names == ["exp-a"] and diffs == []
    assert same_outputs.main([str(before), str(after)]) == 0


@pytest.mark.parametrize("change", ["last_bit", "claim", "missing_task", "missing_experiment"])
def test_fails_on_a_changed_result(tmp_path, change):
    x = 0.1
    tasks_b, tasks_a = [_task(0, 0, x), _task(1, 0, 0.2)], [_task(0, 0, x), _task(1, 0, 0.2)]
    claims_a = json.loads(json.dumps(CLAIMS))
    if change == "last_bit":
        tasks_a[0] = _task(0, 0, math.nextafter(x, 1.0))     # one ulp away
        assert tasks_a[0]["records"][0]["x"] != x
    elif change == "claim":
        claims_a[0]["measured"][1] = 0.5000000000000001
    elif change == "missing_task":
        tasks_a = tasks_a[:1]
    before = _folder(tmp_path / "b", tasks_b, CLAIMS)
    after = _folder(tmp_path / "a", tasks_a, claims_a)
    if change == "missing_experiment":
        (before / "exp-b").mkdir()
        (before / "exp-b" / "claims.json").write_text("[]")
    names, diffs = same_outputs.compare_folders(before, after)
    assert len(diffs) == 1, diffs
    expected = {"last_bit": "records of task cell=0 rep=0 differ", "claim": "claims.json differs",
                "missing_task": "cell=1 rep=0 only in before",
                "missing_experiment": "exp-b: experiment only in before"}[change]
    assert expected in diffs[0]
    assert same_outputs.main([str(before), str(after)]) == 1


def test_refuses_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        same_outputs.compare_folders(tmp_path / "nope", tmp_path)
