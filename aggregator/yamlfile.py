"""YAML text -> plain data, the line of every key path, and the keys given twice.

PyYAML keeps the last of two equal keys without a word (``site:`` twice, ``url:`` twice in one
feed); the composed node tree still has both, so they are found there, with their lines. The
same walk gives every key path a line, so a validation error can say where to look.

Sexagesimal numbers are YAML 1.1's trap for hand-edited files: ``time: 7:00`` would load as the
integer 420 (seven minutes past midnight); here it stays the text ``7:00``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


# libyaml's parser where PyYAML was built with it: the pure-Python scanner is most of the
# start-up of a command over a large feeds.yaml (0.65 s against 0.13 s at 2,000 feeds).
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """SafeLoader without sexagesimal integers and floats."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":int", ":float"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    path: str
    line: int
    first_line: int


@dataclass(frozen=True, slots=True)
class YamlDocument:
    data: object
    lines: dict[str, int] = field(default_factory=dict)
    duplicates: tuple[DuplicateKey, ...] = ()

    def line_of(self, path: str) -> int | None:
        """The line of ``path``, or of the nearest enclosing key that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = re.sub(r"(\.[^.\[\]]*|\[\d+\])$", "", path)
        return None


def load_yaml(text: str) -> YamlDocument:
    """Parse ``text``; raises ``yaml.YAMLError`` for bad syntax, like ``yaml.safe_load``."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None)
        lines: dict[str, int] = {}
        duplicates: list[DuplicateKey] = []
        _walk(node, "", lines, duplicates, set())
        return YamlDocument(loader.construct_document(node), lines, tuple(duplicates))
    finally:
        loader.dispose()


def _walk(
    node: Node, path: str, lines: dict[str, int], duplicates: list[DuplicateKey], seen: set[int]
) -> None:
    if id(node) in seen:  # an alias back into itself
        return
    seen = seen | {id(node)}
    if isinstance(node, MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            child = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in first:
                duplicates.append(DuplicateKey(child, line, first[key]))
            else:
                first[key] = line
                lines.setdefault(child, line)
            _walk(value_node, child, lines, duplicates, seen)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            child = f"{path}[{index}]"
            lines.setdefault(child, item.start_mark.line + 1)
            _walk(item, child, lines, duplicates, seen)
