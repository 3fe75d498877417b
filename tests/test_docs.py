"""Every setting and every command is documented in README.md."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from aggregator.cli import cli
from aggregator.config import FEED_KEYS, Config

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def settings() -> list[str]:
    keys = []
    for section, field in Config.model_fields.items():
        if section in ("feeds", "source_path"):
            continue
        model = field.annotation
        if section == "digests":  # a list of digests, each with the keys of `digest`
            continue
        for name, setting in model.model_fields.items():  # type: ignore[union-attr]
            keys.append(f"{section}.{setting.alias or name}")
    return keys


@pytest.mark.parametrize("key", settings())
def test_setting_is_documented_in_its_section(key):
    section, name = key.split(".")
    part = README.split(f"### `{section}`", 1)[1].split("###", 1)[0]
    assert re.search(rf"^\| `{re.escape(name)}` \|", part, re.M), key


@pytest.mark.parametrize("name", sorted(FEED_KEYS))
def test_feed_keys_are_documented(name):
    part = README.split("### `feeds`", 1)[1].split("##", 1)[0]
    assert f"`{name}`" in part


def test_named_digests_are_documented():
    part = README.split("### `digests`", 1)[1].split("###", 1)[0]
    assert "`digest`" in part


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_command_is_documented(command):
    assert f"`aggregator {command}" in README


def _command_row(command: str) -> str:
    rows = [
        line
        for line in README.splitlines()
        if re.match(rf"^\| `aggregator {re.escape(command)}[` ]", line)
    ]
    assert rows, f"no row for `aggregator {command}` in the README's command table"
    return rows[0]


def _own_options() -> list[tuple[str, str]]:
    from aggregator.cli import _global_names

    pairs = []
    for name, command in sorted(cli.commands.items()):
        for param in command.params:
            if isinstance(param, click.Option) and param.name not in _global_names():
                long = max(param.opts, key=len)
                if long != "--help":
                    pairs.append((name, long))
    return pairs


@pytest.mark.parametrize(("command", "option"), _own_options())
def test_command_option_is_in_its_row(command, option):
    assert option in _command_row(command)


def test_global_options_are_documented():
    from aggregator.cli import _global_params

    part = README.split("Global options, accepted before or after", 1)[1].split("Exit status", 1)[0]
    for param in _global_params():
        assert isinstance(param, click.Option)
        assert f"`{'/'.join(sorted(param.opts, key=len))}" in part, param.opts


def test_exit_codes_are_documented():
    from aggregator.exit_status import ExitCode

    part = README.split("Exit status:", 1)[1].split("##", 1)[0]
    for code in ExitCode:
        assert re.search(rf"^\| `{code.value}` \|", part, re.M), code
