"""The FEEL grammar (a Lark LALR parser, built once), string literal escapes, and
syntax errors that name the unsupported construct rather than a bare token.
"""

from __future__ import annotations

import functools
import re

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from .expression import FeelError


# --------------------------------------------------------------------------- grammar

# Multi-word names of FEEL built-in functions (supported or not), tokenised as one
# name so that e.g. the ``and`` in ``date and time(`` is not the boolean operator.
_MULTI_WORD_FUNCTIONS = (
    "years and months duration", "date and time", "string length", "upper case",
    "lower case", "substring before", "substring after", "starts with", "ends with",
    "string join", "list contains", "insert before", "index of", "distinct values",
    "duplicate values", "get value", "get entries", "put all", "context put",
    "context merge", "is defined", "get or else", "day of week", "day of year",
    "week of year", "month of year", "last day of month", "round up", "round down",
    "round half up", "round half down", "random number", "is empty", "is blank",
    "to base64", "from json", "to json",
)
_FUNC_NAME_RE = "|".join(
    r"\s+".join(name.split()) for name in sorted(_MULTI_WORD_FUNCTIONS, key=len, reverse=True)
)

_GRAMMAR = r"""
?start: expr

?expr: disjunction
     | "if" expr "then" expr "else" expr          -> if_expr

?disjunction: conjunction
            | disjunction "or" conjunction        -> or_
?conjunction: comparison
            | conjunction "and" comparison        -> and_
?comparison: additive
           | additive COMPARE additive            -> compare
           | additive "between" additive "and" additive -> between
           | additive "in" in_target              -> in_
?in_target: additive
          | "[" expr ".." expr "]"                -> range_cc
          | "[" expr ".." expr ")"                -> range_co
          | "(" expr ".." expr "]"                -> range_oc
          | "(" expr ".." expr ")"                -> range_oo
?additive: multiplicative
         | additive "+" multiplicative            -> add
         | additive "-" multiplicative            -> sub
?multiplicative: unary
               | multiplicative "*" unary         -> mul
               | multiplicative "/" unary         -> div
?unary: power
      | "-" unary                                 -> neg
?power: postfix
      | postfix "**" exponent                     -> pow
?exponent: postfix                                // a ** b ** c is not accepted
         | "-" postfix                            -> neg
?postfix: primary
        | postfix "." NAME                        -> path
        | postfix "[" expr "]"                    -> filter
?primary: NUMBER                                  -> number
        | STRING                                  -> string
        | "@" STRING                              -> temporal
        | "true"                                  -> true
        | "false"                                 -> false
        | "null"                                  -> null
        | NAME                                    -> var
        | NAME "(" [args] ")"                     -> call
        | FUNC_NAME "(" [args] ")"                -> call
        | "(" expr ")"
        | "[" [expr ("," expr)*] "]"              -> list
        | "{" [entry ("," entry)*] "}"            -> context
args: expr ("," expr)*
entry: (NAME | STRING) ":" expr

COMPARE: "!=" | "<=" | ">=" | "=" | "<" | ">"
FUNC_NAME.2: /(?:FUNC_NAMES)(?=\s*\()/
NAME: /[^\W\d]\w*/
NUMBER: /\d+(\.\d+)?/ | /\.\d+/
STRING: /"(?:[^"\\]|\\.)*"/s
COMMENT.3: /\/\/[^\n]*/ | /\/\*(.|\n)*?\*\//
%ignore /\s+/
%ignore COMMENT
""".replace("FUNC_NAMES", _FUNC_NAME_RE)


@functools.cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "'": "'", "/": "/"}


def _unescape(token: str) -> str:
    body = token[1:-1]

    def repl(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "u":
            return chr(int(esc[1:], 16))
        return _ESCAPES.get(esc, "\\" + esc)  # unknown escapes (e.g. regex \d) stay

    text = re.sub(r"\\(u[0-9a-fA-F]{4}|.)", repl, body, flags=re.S)
    if any("\ud800" <= c <= "\udfff" for c in text):  # join surrogate pairs
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


_UNSUPPORTED_KEYWORDS = (
    (re.compile(r"\bfor\b"), "'for' expressions"),
    (re.compile(r"\b(some|every)\b"), "quantified expressions ('some'/'every')"),
    (re.compile(r"\bsatisfies\b"), "quantified expressions ('some'/'every')"),
    (re.compile(r"\bfunction\s*\("), "function definitions"),
    (re.compile(r"\binstance\s+of\b"), "'instance of'"),
    (re.compile(r"\bin\s*(<|>|!=|=|not\s*\()"), "unary tests after 'in'"),
    (re.compile(r"\bin\s*\([^()]*,"), "unary test lists after 'in'"),
    (re.compile(r"\w\s*\(\s*\w+(\s+\w+)*\s*:"), "named function arguments"),
)


def _syntax_error(source: str, exc: UnexpectedInput) -> FeelError:
    blanked = re.sub(r'"(?:[^"\\]|\\.)*"', '""', source)
    for pattern, construct in _UNSUPPORTED_KEYWORDS:
        if pattern.search(blanked):
            return FeelError(source, f"{construct} are not supported")
    if isinstance(exc, UnexpectedEOF):
        return FeelError(source, "syntax error: unexpected end of expression")
    column = getattr(exc, "column", "?")
    if isinstance(exc, UnexpectedCharacters):
        char = source[exc.pos_in_stream] if exc.pos_in_stream < len(source) else ""
        return FeelError(source, f"syntax error at column {column}: unexpected {char!r}")
    token = getattr(exc, "token", None)
    if token is not None and token.type == "$END":
        return FeelError(source, "syntax error: unexpected end of expression")
    return FeelError(source, f"syntax error at column {column}: unexpected {str(token)!r}")
