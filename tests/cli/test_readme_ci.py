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


def _fake_path(tmp_path, apt_get):
    """A PATH with the few tools ``.ci/install-chromium`` needs, no Chromium, and (optionally)
    a stand-in ``apt-get`` that "installs" a chromium stub and logs its arguments."""
    import os
    import shutil

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "chmod", "env", "head", "id", "sudo"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bin_dir / tool)
    if apt_get:
        (bin_dir / "apt-get").write_text(
            "#!/bin/bash\n"
            f"echo \"$@\" >> {tmp_path / 'apt.log'}\n"
            f"if [ \"$1\" = install ]; then printf '#!/bin/bash\\necho Chromium 1.0\\n' > "
            f"{bin_dir / 'chromium'}; chmod +x {bin_dir / 'chromium'}; fi\n")
        (bin_dir / "apt-get").chmod(0o755)
    return str(bin_dir)


def _install_chromium(tmp_path, apt_get):
    import os
    import shutil
    import subprocess

    path = _fake_path(tmp_path, apt_get)
    return subprocess.run([shutil.which("bash"), str(ROOT / ".ci" / "install-chromium")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": path})


def test_ci_installs_chromium_with_apt_get_when_missing(tmp_path):
    import os

    import pytest

    if os.geteuid() != 0:
        pytest.skip("the install branch runs apt-get as root (or via password-less sudo)")
    proc = _install_chromium(tmp_path, apt_get=True)
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "apt.log").read_text().splitlines()
    assert log[0].endswith("update -qq") and "install" in log[1] and "chromium" in log[1]
    assert "installed" in proc.stdout and "Chromium 1.0" in proc.stdout


def test_ci_without_apt_get_says_why_and_goes_on(tmp_path):
    proc = _install_chromium(tmp_path, apt_get=False)
    assert proc.returncode == 0
    assert "no apt-get" in proc.stderr and "skipped" in proc.stderr


def test_ci_runs_the_chromium_install_before_the_tests():
    script = (ROOT / ".ci" / "run").read_text()
    assert script.index("bash .ci/install-chromium") < script.index("\npython -m pytest")
