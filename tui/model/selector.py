"""Calico selectors (`route-reflector == 'true'`, `all()`, `has(zone) && rack in {"a", "b"}`).

Calico decides which nodes a pool serves and which nodes peer over BGP with these selectors, so the
monitor and the simulator must read them exactly as libcalico-go does:

* `==`, `!=`, `contains`, `starts with`, `ends with` take a quoted string ('...' or "..."; no
  escapes, a string ends at the next matching quote);
* `in {...}` / `not in {...}` take a set of strings (a trailing comma is allowed, `{}` is empty);
* `has(k)`, `all()`, `global()`; `!` negates the operation that follows (repeated `!` collapse);
* `&&` binds tighter than `||`; parentheses group; only spaces and tabs are whitespace;
* label keys are runs of `[A-Za-z0-9_./-]`; the empty selector means `all()`;
* a missing label never equals anything, and satisfies `!=` and `not in`.

`str()` gives libcalico-go's canonical form: `&&`/`||` groups are parenthesised, sets are sorted and
de-duplicated, strings use double quotes unless they contain one. Parsing the canonical form gives
back an equal selector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "ALL",
    "All",
    "And",
    "Global",
    "Has",
    "InSet",
    "LabelOp",
    "Not",
    "Or",
    "Selector",
    "SelectorError",
    "parse_selector",
]


class SelectorError(ValueError):
    """A selector Calico would refuse; `position` is the 0-based character offset of the problem."""

    def __init__(self, message: str, position: int, text: str = "") -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position
        self.text = text


class Selector:
    """A parsed selector: `matches(labels)` evaluates it, `str()` is the canonical text."""

    def matches(self, labels: Mapping[str, str]) -> bool:
        raise NotImplementedError


def _quote(value: str) -> str:
    quote = "'" if '"' in value else '"'
    return f"{quote}{value}{quote}"


@dataclass(frozen=True)
class All(Selector):
    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def __str__(self) -> str:
        return "all()"


@dataclass(frozen=True)
class Global(Selector):
    """`global()`: matches every labelled object (it only narrows namespaced policy selectors)."""

    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def __str__(self) -> str:
        return "global()"


@dataclass(frozen=True)
class Has(Selector):
    label: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.label in labels

    def __str__(self) -> str:
        return f"has({self.label})"


_STRING_OPS = {
    "==": lambda actual, wanted: actual == wanted,
    "!=": lambda actual, wanted: actual != wanted,
    "contains": lambda actual, wanted: wanted in actual,
    "starts with": lambda actual, wanted: actual.startswith(wanted),
    "ends with": lambda actual, wanted: actual.endswith(wanted),
}


@dataclass(frozen=True)
class LabelOp(Selector):
    """`label <op> "value"` for op in ==, !=, contains, starts with, ends with."""

    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label)
        if actual is None:
            return self.op == "!="
        return _STRING_OPS[self.op](actual, self.value)

    def __str__(self) -> str:
        return f"{self.label} {self.op} {_quote(self.value)}"


@dataclass(frozen=True)
class InSet(Selector):
    """`label in {...}` or, negated, `label not in {...}`; values are sorted and unique."""

    label: str
    values: tuple[str, ...]
    negated: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label)
        if actual is None:
            return self.negated
        return (actual in self.values) != self.negated

    def __str__(self) -> str:
        op = "not in" if self.negated else "in"
        return f"{self.label} {op} {{{', '.join(_quote(v) for v in self.values)}}}"


@dataclass(frozen=True)
class Not(Selector):
    operand: Selector

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.operand.matches(labels)

    def __str__(self) -> str:
        return f"!{self.operand}"


@dataclass(frozen=True)
class And(Selector):
    operands: tuple[Selector, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(operand.matches(labels) for operand in self.operands)

    def __str__(self) -> str:
        return "(" + " && ".join(str(operand) for operand in self.operands) + ")"


@dataclass(frozen=True)
class Or(Selector):
    operands: tuple[Selector, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return any(operand.matches(labels) for operand in self.operands)

    def __str__(self) -> str:
        return "(" + " || ".join(str(operand) for operand in self.operands) + ")"


ALL = All()

# --- tokenizer -----------------------------------------------------------------------------------

_WHITESPACE = " \t"
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")
_SINGLE = {"(": "(", ")": ")", "{": "{", "}": "}", ",": ","}
_DOUBLE = {"==": "==", "!=": "!=", "&&": "&&", "||": "||"}
# Operators recognised right after a label: (first word, optional second word, token kind).
_LABEL_OPERATORS = (
    ("contains", None, "contains"),
    ("starts", "with", "starts with"),
    ("ends", "with", "ends with"),
    ("not", "in", "not in"),
    ("in", None, "in"),
)


@dataclass(frozen=True)
class _Token:
    kind: str  # "label", "string", "eof", a keyword ("has", "all", "global") or the operator text
    value: str
    position: int


class _Tokenizer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, position: int | None = None) -> SelectorError:
        return SelectorError(message, self.pos if position is None else position, self.text)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def label(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _LABEL_CHARS:
            self.pos += 1
        return self.text[start:self.pos]

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        while True:
            self.skip_space()
            start = self.pos
            if self.pos >= len(self.text):
                out.append(_Token("eof", "", start))
                return out
            char = self.text[self.pos]
            pair = self.text[self.pos:self.pos + 2]
            if char in _SINGLE:
                self.pos += 1
                out.append(_Token(_SINGLE[char], char, start))
            elif pair in _DOUBLE:
                self.pos += 2
                out.append(_Token(_DOUBLE[pair], pair, start))
            elif char == "!":
                self.pos += 1
                out.append(_Token("!", "!", start))
            elif char in "=&|":
                raise self.error(f"expected {char * 2}")
            elif char in "\"'":
                end = self.text.find(char, self.pos + 1)
                if end < 0:
                    raise self.error("unterminated string")
                self.pos = end + 1
                out.append(_Token("string", self.text[start + 1:end], start))
            elif out and out[-1].kind == "label":
                out.append(self.label_operator(out[-1].value))
            else:
                out.append(self.word())

    def label_operator(self, label: str) -> _Token:
        start = self.pos
        for first, second, kind in _LABEL_OPERATORS:
            if not self.text.startswith(first, self.pos):
                continue
            self.pos += len(first)
            if second is not None:
                self.skip_space()
                if not self.text.startswith(second, self.pos):
                    raise self.error(f"expected {first} {second!r} after label {label!r}")
                self.pos += len(second)
            return _Token(kind, kind, start)
        raise self.error(f"expected an operator after label {label!r}")

    def word(self) -> _Token:
        start = self.pos
        for keyword in ("has", "all", "global"):
            if not self.text.startswith(keyword + "(", self.pos):
                continue
            self.pos += len(keyword) + 1
            self.skip_space()
            value = ""
            if keyword == "has":
                value = self.label()
                if not value:
                    raise self.error("expected a label name in has(")
                self.skip_space()
            if not self.text.startswith(")", self.pos):
                raise self.error(f"expected ) to close {keyword}(")
            self.pos += 1
            return _Token(keyword, value, start)
        value = self.label()
        if not value:
            raise self.error(f"unexpected character {self.text[self.pos]!r}")
        return _Token("label", value, start)


# --- parser --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _Tokenizer(text).tokens()
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, message: str) -> SelectorError:
        return SelectorError(message, self.token.position, self.text)

    def describe(self) -> str:
        token = self.token
        if token.kind == "eof":
            return "end of selector"
        if token.kind == "string":
            return f"string {token.value!r}"
        if token.kind == "label":
            return f"label {token.value!r}"
        return repr(self.text[token.position:self.tokens[self.index + 1].position].rstrip())

    def parse(self) -> Selector:
        if self.token.kind == "eof":
            return ALL
        node = self.parse_or()
        if self.token.kind != "eof":
            raise self.error(f"unexpected {self.describe()} after a complete selector")
        return node

    def parse_or(self) -> Selector:
        operands = [self.parse_and()]
        while self.token.kind == "||":
            self.advance()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Selector:
        operands = [self.parse_operation()]
        while self.token.kind == "&&":
            self.advance()
            operands.append(self.parse_operation())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_operation(self) -> Selector:
        negated = False
        while self.token.kind == "!":
            self.advance()
            negated = not negated
        token = self.token
        if token.kind in ("has", "all", "global"):
            self.advance()
            node: Selector = {"has": lambda: Has(token.value), "all": lambda: ALL, "global": Global}[token.kind]()
        elif token.kind == "label":
            self.advance()
            node = self.parse_comparison(token.value)
        elif token.kind == "(":
            self.advance()
            node = self.parse_or()
            if self.token.kind != ")":
                raise self.error(f"expected ) but found {self.describe()}")
            self.advance()
        else:
            raise self.error(f"expected a label, has(), all(), global(), ! or ( but found {self.describe()}")
        return Not(node) if negated else node

    def parse_comparison(self, label: str) -> Selector:
        op = self.token.kind
        if op in _STRING_OPS:
            self.advance()
            if self.token.kind != "string":
                raise self.error(f"expected a quoted string after {op} but found {self.describe()}")
            return LabelOp(label, op, self.advance().value)
        if op in ("in", "not in"):
            self.advance()
            return InSet(label, self.parse_set(), negated=(op == "not in"))
        raise self.error(f"expected an operator after label {label!r} but found {self.describe()}")

    def parse_set(self) -> tuple[str, ...]:
        if self.token.kind != "{":
            raise self.error(f"expected {{ to start a set but found {self.describe()}")
        self.advance()
        values: set[str] = set()
        while self.token.kind == "string":
            values.add(self.advance().value)
            if self.token.kind != ",":
                break
            self.advance()
        if self.token.kind != "}":
            raise self.error(f"expected a quoted string or }} but found {self.describe()}")
        self.advance()
        return tuple(sorted(values))


def parse_selector(text: str) -> Selector:
    """Parse a Calico selector; raises SelectorError (with position) exactly where Calico would refuse."""
    if not isinstance(text, str):
        raise SelectorError(f"selector must be a string, got {type(text).__name__}", 0)
    return _parse_cached(text)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Selector:
    # Pools, peers and nodes repeat the same few selectors; parsed selectors are immutable.
    return _Parser(text).parse()
