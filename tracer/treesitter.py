"""The one module that touches py-tree-sitter's API.

Everything else sees `Node` objects only through the attributes that are stable across
py-tree-sitter releases (type, children, start_byte, end_byte, start_point, text, fields).
"""

from __future__ import annotations

import importlib
from functools import cache

import tree_sitter

Node = tree_sitter.Node
Tree = tree_sitter.Tree


@cache
def language(grammar: str) -> tree_sitter.Language:
    """`grammar` is "module" or "module:function" (tree_sitter_typescript:language_tsx)."""
    module, _, func = grammar.partition(":")
    return tree_sitter.Language(getattr(importlib.import_module(module), func or "language")())


def parse(grammar: str, source: bytes) -> Tree:
    return tree_sitter.Parser(language(grammar)).parse(source)


@cache
def _query(grammar: str, text: str) -> tree_sitter.Query:
    return tree_sitter.Query(language(grammar), text)


def captures(grammar: str, query: str, node: Node) -> list[tuple[str, Node]]:
    """All captures of `query` under `node`, in source order."""
    found = tree_sitter.QueryCursor(_query(grammar, query)).captures(node)
    pairs = [(name, n) for name, nodes in found.items() for n in nodes]
    pairs.sort(key=lambda p: (p[1].start_byte, -p[1].end_byte))
    return pairs


def first_error(node: Node) -> Node | None:
    """The first ERROR or MISSING node under `node`, or None when it parsed cleanly."""
    if not node.has_error:
        return None
    stack = [node]
    while stack:
        n = stack.pop()
        if n.is_error or n.is_missing:
            return n
        stack.extend(c for c in reversed(n.children) if c.has_error or c.is_missing)
    return node
