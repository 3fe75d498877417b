"""Every setting and every command is documented in README.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aggregator.cli import cli
from aggregator.config import Config, FeedConfig

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def settings() -> list[str]:
    keys = []
    for section, field in Config.model_fields.items():
        if section in ("feeds", "source_path"):
            continue
        model = field.annotation
        for name, setting in model.model_fields.items():  # type: ignore[union-attr]
            keys.append(f"{section}.{setting.alias or name}")
    return keys


@pytest.mark.parametrize("key", settings())
def test_setting_is_documented_in_its_section(key):
    section, name = key.split(".")
    part = README.split(f"### `{section}`", 1)[1].split("###", 1)[0]
    assert re.search(rf"^\| `{re.escape(name)}` \|", part, re.M), key


@pytest.mark.parametrize("name", sorted(FeedConfig.model_fields))
def test_feed_keys_are_documented(name):
    part = README.split("### `feeds`", 1)[1].split("##", 1)[0]
    assert f"`{name}`" in part


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_command_is_documented(command):
    assert f"`aggregator {command}" in README
