"""The deployment files in deploy/: checked by the tools that read them."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

from tests.test_cli import EXE, run

DEPLOY = Path(__file__).parent.parent / "deploy"


def test_systemd_unit_verifies_and_stops_gently(tmp_path):
    text = (DEPLOY / "aggregator.service").read_text(encoding="utf-8")
    settings = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    assert settings["KillMode"] == "mixed"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert settings["RestartPreventExitStatus"] == "2"
    # systemd-analyze wants the program to exist: point the copy at the installed one.
    unit = tmp_path / "aggregator.service"
    unit.write_text(text.replace("/usr/local/bin/aggregator", str(EXE)), encoding="utf-8")
    analyze = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                            env={"SYSTEMD_LOG_LEVEL": "err", "PATH": "/usr/bin:/bin"},
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "aggregator.service" not in result.stderr, result.stderr
    command = shlex.split(settings["ExecStart"])[1:]
    assert run(*command, "--help", cwd=tmp_path).returncode == 0


def test_containerfile_lints_clean_and_runs_the_service():
    hadolint = shutil.which("hadolint") or str(Path(EXE).with_name("hadolint"))
    result = subprocess.run([hadolint, str(DEPLOY / "Containerfile")], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    assert 'CMD ["aggregator", "run"]' in text
    assert 'VOLUME ["/var/lib/aggregator", "/var/www/aggregator"]' in text
    assert re.search(r"^USER \d+$", text, re.M)


def test_cron_lines_are_valid_commands(tmp_path):
    lines = [
        line for line in (DEPLOY / "cron").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]  # fmt: skip
    assert len(lines) == 2
    for line in lines:
        fields = line.split()
        minute, hour, day, month, weekday = fields[:5]
        assert all(re.fullmatch(r"[\d*/,-]+", f) for f in (minute, hour, day, month, weekday))
        words = fields[5:]
        command = words[words.index("aggregator") + 1 :]
        assert run(*command, "--help", cwd=tmp_path).returncode == 0, line
