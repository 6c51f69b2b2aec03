"""Compiling function calls (``now()``, ``today()`` and ``is defined()`` specially)
and ``in`` tests over lists and ranges; mixed into :class:`.compiler._Compiler`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from lark import Token, Tree

from .builtins import _FUNCTIONS, _SPECIAL_ARITY, _TEMPORAL_CONSTRUCTORS
from .expression import _const, _MISSING, _NO_CONST, _Node, FeelError
from .grammar import _MULTI_WORD_FUNCTIONS
from .values import _CONTEXT, _eq, _kind, _LE, _LIST, _LT, _member


class _CallCompiler:
    """Calls and ``in`` tests; the compiler supplies ``compile``, ``error`` and ``source``."""

    source: str

    def compile(self, tree: Tree | Token) -> _Node:  # pragma: no cover - the compiler's
        raise NotImplementedError

    def error(self, detail: str) -> FeelError:  # pragma: no cover - the compiler's
        raise NotImplementedError

    def c_in_(self, value: Tree, target: Tree) -> _Node:
        if isinstance(target, Tree) and target.data.startswith("range_"):
            low_op = _LE if target.data[6] == "c" else _LT
            high_op = _LE if target.data[7] == "c" else _LT
            return self._range(value, *target.children, low_op, high_op)
        v, t = self.compile(value), self.compile(target)
        fv, ft = v.fn, t.fn
        if isinstance(t.const, list):
            items = tuple(t.const)

            def in_const(ctx: Mapping[str, Any], now: datetime | None) -> bool:
                x = fv(ctx, now)
                return any(_eq(x, e) is True for e in items)

            return _Node(in_const, v.names)

        def in_(ctx: Mapping[str, Any], now: datetime | None) -> bool | None:
            x, target_value = fv(ctx, now), ft(ctx, now)
            if _kind(target_value) == _LIST:
                return any(_eq(x, e) is True for e in target_value)
            return _eq(x, target_value)

        return _Node(in_, v.names | t.names)

    def _range(
        self,
        value: Tree,
        low: Tree,
        high: Tree,
        low_op: Callable[[Any, Any], bool | None],
        high_op: Callable[[Any, Any], bool | None],
    ) -> _Node:
        v, lo, hi = self.compile(value), self.compile(low), self.compile(high)
        fv, flo, fhi = v.fn, lo.fn, hi.fn

        def within(ctx: Mapping[str, Any], now: datetime | None) -> bool | None:
            x = fv(ctx, now)
            a = low_op(flo(ctx, now), x)
            if a is False:
                return False
            b = high_op(x, fhi(ctx, now))
            if b is False:
                return False
            return True if a is True and b is True else None

        return _Node(within, v.names | lo.names | hi.names)

    def c_call(self, name_tok: Token, args: Tree | None = None) -> _Node:
        name = " ".join(str(name_tok).split())
        arg_trees = list(args.children) if args is not None else []
        n = len(arg_trees)
        if name in _SPECIAL_ARITY:
            if n != _SPECIAL_ARITY[name]:
                raise self.error(f"{name}() takes {_SPECIAL_ARITY[name]} argument(s), got {n}")
            return getattr(self, "_call_" + name.replace(" ", "_"))(*arg_trees)
        spec = _FUNCTIONS.get(name)
        if spec is None:
            what = "FEEL built-in function" if name in _MULTI_WORD_FUNCTIONS else "function"
            raise self.error(f"{what} '{name}()' is not supported")
        impl, lo, hi = spec
        if not lo <= n <= hi:
            expected = str(lo) if lo == hi else f"{lo} to {hi}" if hi < 255 else f"at least {lo}"
            raise self.error(f"{name}() takes {expected} argument(s), got {n}")
        if name == "date" and n == 2:
            raise self.error("date() takes 1 or 3 arguments, got 2")
        nodes = [self.compile(a) for a in arg_trees]
        names = frozenset().union(*(a.names for a in nodes))

        def safe(*values: Any) -> Any:
            try:
                return impl(*values)
            except (TypeError, ValueError, OverflowError, AttributeError):
                return None  # FEEL: a failed function call is null

        if all(a.const is not _NO_CONST for a in nodes):
            value = safe(*(a.const for a in nodes))
            if value is None and name in _TEMPORAL_CONSTRUCTORS and all(
                isinstance(a.const, str) for a in nodes
            ):
                raise self.error(f"invalid {name} literal {nodes[0].const!r}")
            return _const(value)
        fns = [a.fn for a in nodes]
        if n == 1:
            (f0,) = fns
            return _Node(lambda ctx, now: safe(f0(ctx, now)), names)
        return _Node(lambda ctx, now: safe(*(f(ctx, now) for f in fns)), names)

    def _call_now(self) -> _Node:
        source = self.source

        def now_(ctx: Mapping[str, Any], now: datetime | None) -> datetime:
            if now is None:
                raise FeelError(source, "now() needs the engine clock (no 'now' given)")
            return now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)

        return _Node(now_, frozenset())

    def _call_today(self) -> _Node:
        source = self.source

        def today_(ctx: Mapping[str, Any], now: datetime | None) -> date:
            if now is None:
                raise FeelError(source, "today() needs the engine clock (no 'now' given)")
            return now.date()

        return _Node(today_, frozenset())

    def _call_is_defined(self, arg: Tree) -> _Node:
        node = self.compile(arg)
        if node.path is None:  # any value, null included, is defined
            return _Node(lambda ctx, now: True, node.names)
        root, *keys = node.path

        def defined(ctx: Mapping[str, Any], now: datetime | None) -> bool:
            v = ctx.get(root, _MISSING)
            for key in keys:
                k = _kind(v)
                if k == _CONTEXT:
                    v = v.get(key, _MISSING)
                elif k == _LIST:
                    return True  # a path on a list is a projection: a list
                else:  # a temporal property, or missing
                    v = _MISSING if v is _MISSING or _member(v, key) is None else v
                if v is _MISSING:
                    return False
            return v is not _MISSING

        return _Node(defined, node.names)
