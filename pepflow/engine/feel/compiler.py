"""The compiler from the parse tree to nested Python closures: literals, paths,
arithmetic, comparisons and logic (calls and ``in`` in :mod:`.calls`); and
:func:`compile_feel`, cached.
"""

from __future__ import annotations

import functools
from collections import ChainMap
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from .expression import _const, _NO_CONST, _Node, FeelError, FeelExpression
from .grammar import _parser, _syntax_error, _unescape
from .temporal import _parse_date, _parse_datetime, _parse_duration
from .values import _add, _COMPARISONS, _div, _LE, _member, _mul, _neg, _NUM_TYPES, _pow, _sub
from .calls import _CallCompiler


class _Compiler(_CallCompiler):
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, detail: str) -> FeelError:
        return FeelError(self.source, detail)

    def compile(self, tree: Tree | Token) -> _Node:
        if isinstance(tree, Token):  # a lone terminal, e.g. ``?start`` inlined a NAME
            raise self.error(f"unexpected {tree.type}")  # pragma: no cover
        method = getattr(self, f"c_{tree.data}", None)
        if method is None:  # pragma: no cover - grammar and compiler out of step
            raise self.error(f"unsupported construct {tree.data!r}")
        return method(*tree.children)

    # -- literals
    def c_number(self, tok: Token) -> _Node:
        text = str(tok)
        return _const(float(text) if "." in text else int(text))

    def c_string(self, tok: Token) -> _Node:
        return _const(_unescape(str(tok)))

    def c_temporal(self, tok: Token) -> _Node:
        text = _unescape(str(tok))
        if text.startswith(("P", "-P")):
            value: Any = _parse_duration(text)
        elif "T" in text:
            value = _parse_datetime(text)
        else:
            value = _parse_date(text)
        if value is None:
            raise self.error(f"invalid temporal literal @{tok}")
        return _const(value)

    def c_true(self) -> _Node:
        return _const(True)

    def c_false(self) -> _Node:
        return _const(False)

    def c_null(self) -> _Node:
        return _const(None)

    def c_list(self, *items: Tree) -> _Node:
        nodes = [self.compile(i) for i in items]
        names = frozenset().union(*(n.names for n in nodes))
        if all(n.const is not _NO_CONST for n in nodes):
            return _const([n.const for n in nodes])
        fns = [n.fn for n in nodes]
        return _Node(lambda ctx, now: [f(ctx, now) for f in fns], names)

    def c_context(self, *entries: Tree) -> _Node:
        keys: list[str] = []
        nodes: list[_Node] = []
        names: set[str] = set()
        for entry in entries:
            key_tok, expr = entry.children
            key = _unescape(str(key_tok)) if key_tok.type == "STRING" else str(key_tok)
            if key in keys:
                raise self.error(f"duplicate context key {key!r}")
            node = self.compile(expr)
            names |= node.names - set(keys)
            keys.append(key)
            nodes.append(node)
        if all(n.const is not _NO_CONST for n in nodes):
            return _const(dict(zip(keys, (n.const for n in nodes))))
        pairs = list(zip(keys, (n.fn for n in nodes)))
        local = any(n.names & set(keys[:i]) for i, n in enumerate(nodes))
        if not local:
            return _Node(lambda ctx, now: {k: f(ctx, now) for k, f in pairs}, frozenset(names))

        def build(ctx: Mapping[str, Any], now: datetime | None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            scope = ChainMap(out, ctx)  # later entries see earlier ones
            for k, f in pairs:
                out[k] = f(scope, now)
            return out

        return _Node(build, frozenset(names))

    # -- names and paths
    def c_var(self, tok: Token) -> _Node:
        name = str(tok)
        return _Node(lambda ctx, now: ctx.get(name), frozenset({name}), path=(name,))

    def c_path(self, base: Tree, tok: Token) -> _Node:
        node = self.compile(base)
        key = str(tok)
        f = node.fn
        path = None if node.path is None else (*node.path, key)
        if node.const is not _NO_CONST:
            return _const(_member(node.const, key))

        def get(ctx: Mapping[str, Any], now: datetime | None) -> Any:
            v = f(ctx, now)
            if type(v) is dict:
                return v.get(key)
            return _member(v, key)

        return _Node(get, node.names, path=path)

    def c_filter(self, base: Tree, expr: Tree) -> _Node:
        """``list[condition]`` (``item``, and a context item's keys, in scope) and
        ``list[index]`` (1-based, negative from the end; out of range is null), as the
        FEEL spec and Camunda's engine: a number selects, anything else filters, and a
        non-list value is a list of one."""
        node, cond = self.compile(base), self.compile(expr)
        fb, fc = node.fn, cond.fn

        def run(ctx: Mapping[str, Any], now: datetime | None) -> Any:
            value = fb(ctx, now)
            if value is None:
                return None
            items = value if isinstance(value, list) else [value]
            probe = fc(ctx, now)
            if isinstance(probe, _NUM_TYPES) and not isinstance(probe, bool) and "item" not in cond.names:
                index = int(probe)
                if index != probe or index == 0 or abs(index) > len(items):
                    return None
                return items[index - 1] if index > 0 else items[index]
            kept = []
            for item in items:
                scope = ChainMap({"item": item}, item if isinstance(item, dict) else {}, ctx)
                if fc(scope, now) is True:
                    kept.append(item)
            return kept

        return _Node(run, node.names | (cond.names - {"item"}))

    # -- operators
    def _binary(self, op: Callable[[Any, Any], Any], left: Tree, right: Tree) -> _Node:
        a, b = self.compile(left), self.compile(right)
        names = a.names | b.names
        if a.const is not _NO_CONST and b.const is not _NO_CONST:
            return _const(op(a.const, b.const))
        fa, fb = a.fn, b.fn
        if b.const is not _NO_CONST:
            cb = b.const
            return _Node(lambda ctx, now: op(fa(ctx, now), cb), names)
        return _Node(lambda ctx, now: op(fa(ctx, now), fb(ctx, now)), names)

    def c_add(self, left: Tree, right: Tree) -> _Node:
        return self._binary(_add, left, right)

    def c_sub(self, left: Tree, right: Tree) -> _Node:
        return self._binary(_sub, left, right)

    def c_mul(self, left: Tree, right: Tree) -> _Node:
        return self._binary(_mul, left, right)

    def c_div(self, left: Tree, right: Tree) -> _Node:
        return self._binary(_div, left, right)

    def c_pow(self, left: Tree, right: Tree) -> _Node:
        return self._binary(_pow, left, right)

    def c_neg(self, operand: Tree) -> _Node:
        node = self.compile(operand)
        if node.const is not _NO_CONST:
            return _const(_neg(node.const))
        f = node.fn
        return _Node(lambda ctx, now: _neg(f(ctx, now)), node.names)

    def c_compare(self, left: Tree, op: Token, right: Tree) -> _Node:
        return self._binary(_COMPARISONS[str(op)], left, right)

    def c_between(self, value: Tree, low: Tree, high: Tree) -> _Node:
        return self._range(value, low, high, _LE, _LE)

    def c_and_(self, left: Tree, right: Tree) -> _Node:
        a, b = self.compile(left), self.compile(right)
        fa, fb = a.fn, b.fn

        def and_(ctx: Mapping[str, Any], now: datetime | None) -> bool | None:
            x = fa(ctx, now)
            if x is False:
                return False
            y = fb(ctx, now)
            if y is False:
                return False
            return True if x is True and y is True else None

        return _Node(and_, a.names | b.names)

    def c_or_(self, left: Tree, right: Tree) -> _Node:
        a, b = self.compile(left), self.compile(right)
        fa, fb = a.fn, b.fn

        def or_(ctx: Mapping[str, Any], now: datetime | None) -> bool | None:
            x = fa(ctx, now)
            if x is True:
                return True
            y = fb(ctx, now)
            if y is True:
                return True
            return False if x is False and y is False else None

        return _Node(or_, a.names | b.names)

    def c_if_expr(self, cond: Tree, then: Tree, other: Tree) -> _Node:
        c, t, e = self.compile(cond), self.compile(then), self.compile(other)
        fc, ft, fe = c.fn, t.fn, e.fn
        return _Node(
            lambda ctx, now: ft(ctx, now) if fc(ctx, now) is True else fe(ctx, now),
            c.names | t.names | e.names,
        )


@functools.lru_cache(maxsize=4096)
def compile_feel(source: str) -> FeelExpression:
    """Compile a FEEL expression (with or without the leading ``=``), cached.

    Raises :class:`FeelError` for syntax errors, unknown or unsupported functions and
    constructs, wrong argument counts and invalid temporal literals.
    """
    text = source.strip()
    if text.startswith("="):
        text = text[1:].strip()
    if not text:
        raise FeelError(source, "empty expression")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    node = _Compiler(text).compile(tree)
    return FeelExpression(text, node.names, node.fn)
