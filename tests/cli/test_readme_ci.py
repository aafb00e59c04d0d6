"""The README's quick start and ``.ci/run`` stay in sync."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _quick_start_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_quick_start_has_exactly_the_two_commands():
    assert _quick_start_commands() == [
        'python -m pip install -e ".[test]" && python -m simulations reproduce --quick --out results',
        'python -m pip install -e ".[test]" && python -m pytest -m "not slow" -q',
    ]


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    readme_test = _quick_start_commands()[1].split(" && ", 1)[1]
    assert f"TEST_CMD='{readme_test}'" in script
    run_lines = [line for line in script.splitlines() if line.startswith("python -m pytest")]
    assert run_lines and all(line.startswith(readme_test) for line in run_lines)
    assert "set -euo pipefail" in script and '-eq 5' in script
