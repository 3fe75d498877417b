"""The deployment files in deploy/: checked by the tools that read them."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
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


NGINX_MAIN = """daemon off;
master_process off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {root}/aggregator.conf;
}}
"""


def test_nginx_example_passes_nginx_t_and_serves_the_export(tmp_path):
    """deploy/nginx.conf as included in nginx's http block, run by Debian's nginx (.ci/run
    installs it) on a loopback port over a real export."""
    import httpx

    from tests.conftest import free_port

    site = tmp_path / "demo"
    assert run("demo", "--out", str(site), cwd=tmp_path).returncode == 0
    output = site / "output"
    port = free_port()
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "listen 80;" in text
    assert "root /var/www/aggregator;" in text  # the Containerfile's volume
    conf = tmp_path / "nginx"
    conf.mkdir()
    (conf / "aggregator.conf").write_text(
        text.replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("listen [::]:80;\n", "")
        .replace("root /var/www/aggregator;", f"root {output};"),
        encoding="utf-8",
    )
    (conf / "nginx.conf").write_text(NGINX_MAIN.format(root=conf), encoding="utf-8")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    command = [nginx, "-p", str(conf), "-c", str(conf / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as client:
            for _ in range(100):
                try:
                    client.get("/")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            month = next(output.glob("archive/*.rss")).name
            tag = next((output / "tag").iterdir()).name
            expected = {
                "/": ("text/html; charset=utf-8", "public, max-age=60"),
                f"/tag/{tag}/": ("text/html; charset=utf-8", "public, max-age=60"),
                "/atom.xml": ("application/atom+xml", "public, max-age=300"),
                "/rss.xml": ("application/rss+xml", "public, max-age=300"),
                f"/tag/{tag}/rss.xml": ("application/rss+xml", "public, max-age=300"),
                "/feed.json": ("application/feed+json", "public, max-age=300"),
                "/sources.opml": ("text/x-opml; charset=utf-8", "public, max-age=300"),
                f"/archive/{month}": ("application/rss+xml", "public, max-age=300"),
                "/style.css": ("text/css; charset=utf-8", "public, max-age=86400"),
            }
            for path, (kind, cache) in expected.items():
                response = client.get(path)
                assert response.status_code == 200, path
                assert (response.headers["content-type"], response.headers["cache-control"]) == (
                    kind, cache
                ), path  # fmt: skip
            # Dotfiles (temporaries, the lock, the sealed manifest) are not served.
            assert client.get("/.aggregator-sealed.json").status_code == 403
            atom = client.get("/atom.xml")
            assert atom.content == (output / "atom.xml").read_bytes()
            again = client.get("/atom.xml", headers={"If-None-Match": atom.headers["etag"]})
            assert again.status_code == 304
            packed = client.get("/atom.xml", headers={"Accept-Encoding": "gzip"})
            assert packed.headers["content-encoding"] == "gzip"
    finally:
        server.terminate()
        server.wait(10)
