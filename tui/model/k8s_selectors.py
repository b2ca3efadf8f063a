"""Kubernetes label and field selectors, parsed and matched like the apiserver (shared by the simulator,
the migration engine and the nodes filter).

The simulator must reject what the real server rejects (a malformed selector is a 400, an unsupported
field a 400 ``field label not supported``) and match exactly what it matches, because clients such as
``kubectl drain`` (``spec.nodeName=<n>``) and the TUI's cache rely on the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "FIELD_SELECTORS",
    "FieldRequirement",
    "FieldSelector",
    "LabelRequirement",
    "LabelSelector",
    "SelectorError",
    "field_value",
    "parse_field_selector",
    "parse_label_selector",
    "supported_fields",
]


class SelectorError(ValueError):
    """A selector the apiserver would refuse with 400 BadRequest; ``str()`` is the message."""


# --- label key / value validation (apimachinery IsQualifiedName / IsValidLabelValue) -------------

_NAME_MAX = 63
_PREFIX_MAX = 253
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _key_errors(key: str) -> list[str]:
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        if len(prefix) > _PREFIX_MAX:
            return [f"prefix part must be no more than {_PREFIX_MAX} characters"]
        if not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return ["prefix part must be a lowercase RFC 1123 subdomain"]
    else:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
                "with an optional DNS subdomain prefix and '/'"]
    if not name:
        return ["name part must be non-empty"]
    if len(name) > _NAME_MAX:
        return [f"name part must be no more than {_NAME_MAX} characters"]
    if not _QUALIFIED_NAME.fullmatch(name):
        return ["name part must consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character"]
    return []


def _value_errors(value: str) -> list[str]:
    if len(value) > _NAME_MAX:
        return [f"must be no more than {_NAME_MAX} characters"]
    if value and not _QUALIFIED_NAME.fullmatch(value):
        return ["a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character"]
    return []


def _check_key(key: str) -> None:
    if errors := _key_errors(key):
        raise SelectorError(f'unable to parse requirement: Invalid value: "{key}": {"; ".join(errors)}')


def _check_value(key: str, value: str) -> None:
    if errors := _value_errors(value):
        raise SelectorError(
            f'unable to parse requirement: [{key}]: Invalid value: "{value}": {"; ".join(errors)}')


# --- label selectors -----------------------------------------------------------------------------

# Requirement operators after normalisation: `=`/`==` are `in` with one value and `!=` is `notin`
# with one value, which is exactly how the apiserver matches them.
IN, NOT_IN, EXISTS, NOT_EXISTS, GT, LT = "in", "notin", "exists", "!", "gt", "lt"


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == IN:
            return present and labels[self.key] in self.values
        if self.operator == NOT_IN:
            return not present or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == NOT_EXISTS:
            return not present
        if not present:
            return False
        try:
            have = int(labels[self.key])
        except ValueError:
            return False
        (want,) = (int(v) for v in self.values)
        return have > want if self.operator == GT else have < want


@dataclass(frozen=True)
class _AllOf:
    """A conjunction of requirements: a comma in either selector syntax."""

    requirements: tuple = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def _all(self, subject: Mapping) -> bool:
        return all(r.matches(subject) for r in self.requirements)


class LabelSelector(_AllOf):
    requirements: tuple[LabelRequirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return self._all(labels or {})


_SPECIAL = frozenset("=!(),<>")
_WHITESPACE = frozenset(" \t\r\n")
_TWO_CHAR_OPS = frozenset({"==", "!="})
_KEYWORDS = frozenset({"in", "notin"})
_EOS = ("eos", "")


def _lex(text: str) -> list[tuple[str, str]]:
    """Split into (kind, literal); kind is "id", "kw" (in/notin), "eos" or the symbol itself."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in _SPECIAL:
            symbol = text[i:i + 2] if text[i:i + 2] in _TWO_CHAR_OPS else ch
            tokens.append((symbol, symbol))
            i += len(symbol)
        else:
            start = i
            while i < n and text[i] not in _SPECIAL and text[i] not in _WHITESPACE:
                i += 1
            word = text[start:i]
            tokens.append(("kw" if word in _KEYWORDS else "id", word))
    tokens.append(_EOS)
    return tokens


class _LabelParser:
    """Recursive descent over the token list; `in`/`notin` are keywords only in operator position."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, as_value: bool = True) -> tuple[str, str]:
        kind, lit = self.tokens[self.pos]
        return ("id" if as_value and kind == "kw" else kind), lit

    def take(self, as_value: bool = True) -> tuple[str, str]:
        token = self.peek(as_value)
        self.pos += 1
        return token

    def parse(self) -> LabelSelector:
        requirements: list[LabelRequirement] = []
        kind, lit = self.peek()
        if kind == "eos":
            return LabelSelector()
        while True:
            if kind not in ("id", "!"):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            requirements.append(self.requirement())
            kind, lit = self.take()
            if kind == "eos":
                break
            if kind != ",":
                raise SelectorError(
                    f"unable to parse requirement: found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self.peek()
            if kind not in ("id", "!"):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")
        return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))

    def requirement(self) -> LabelRequirement:
        negated = self.peek()[0] == "!"
        if negated:
            self.take()
        kind, key = self.take()
        if kind != "id":
            raise SelectorError(f"unable to parse requirement: found '{key}', expected: identifier")
        _check_key(key)
        if self.peek()[0] in ("eos", ","):
            return LabelRequirement(key, NOT_EXISTS if negated else EXISTS)
        if negated:
            raise SelectorError(f"unable to parse requirement: found '{self.peek()[1]}', "
                                "expected: ',' or 'end of string'")
        kind, op = self.take(as_value=False)
        if kind == "kw":
            values = self.value_set()
            operator = IN if op == "in" else NOT_IN
        elif kind in ("=", "==", "!=", ">", "<"):
            values = frozenset({self.exact_value()})
            operator = {"=": IN, "==": IN, "!=": NOT_IN, ">": GT, "<": LT}[kind]
        else:
            raise SelectorError(f"unable to parse requirement: found '{op}', "
                                "expected: in, notin, =, ==, !=, gt, lt")
        for value in values:
            _check_value(key, value)
        if operator in (GT, LT):
            (value,) = values
            try:
                int(value)
            except ValueError:
                raise SelectorError("unable to parse requirement: for 'Gt', 'Lt' operators, "
                                    "the value must be an integer") from None
        return LabelRequirement(key, operator, values)

    def exact_value(self) -> str:
        kind, lit = self.peek()
        if kind in ("eos", ","):
            return ""
        self.take()
        if kind != "id":
            raise SelectorError(f"unable to parse requirement: found '{lit}', expected: identifier")
        return lit

    def value_set(self) -> frozenset[str]:
        kind, lit = self.take()
        if kind != "(":
            raise SelectorError(f"unable to parse requirement: found '{lit}' expected: '('")
        values: set[str] = set()
        expect_value = True  # an empty slot between commas (or at either end) is the value ""
        while True:
            kind, lit = self.take()
            if kind == ")":
                if expect_value:
                    values.add("")
                return frozenset(values)
            if kind == ",":
                if expect_value:
                    values.add("")
                expect_value = True
            elif kind == "id" and expect_value:
                values.add(lit)
                expect_value = False
            else:
                raise SelectorError(
                    f"unable to parse requirement: found '{lit}', expected: ',', ')' or identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a ``labelSelector`` query value; an empty string selects everything."""
    return _LabelParser(text).parse()


# --- field selectors -----------------------------------------------------------------------------

_META = frozenset({"metadata.name", "metadata.namespace"})

# Fields the apiserver accepts per built-in type (the field-label conversion functions); every other
# type, CRs included, accepts only metadata.name and metadata.namespace.
FIELD_SELECTORS: dict[tuple[str, str], frozenset[str]] = {
    ("", "pods"): _META | {
        "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
        "status.nominatedNodeName",
    },
    ("", "nodes"): frozenset({"metadata.name", "spec.unschedulable"}),
    ("", "namespaces"): frozenset({"metadata.name", "status.phase"}),
    ("", "events"): _META | {
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
        "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type",
    },
    ("", "secrets"): _META | {"type"},
    ("", "services"): _META | {"spec.clusterIP", "spec.type"},
    ("", "replicationcontrollers"): _META | {"status.replicas"},
}


def supported_fields(group: str, plural: str) -> frozenset[str]:
    return FIELD_SELECTORS.get((group, plural), _META)


# Booleans the apiserver always puts in the field set, so an absent one reads "false".
_BOOL_FIELDS = frozenset({"spec.unschedulable", "spec.hostNetwork"})


def field_value(obj: Mapping, field: str) -> str:
    """The string the apiserver's field set holds for ``field``: "" when absent, bools lowercase.

    ``status.podIPs`` is accepted by the real server but never filled in, so it is always "" there;
    walking the path gives a list here, which reads as "" too.
    """
    if field == "status.podIP":
        ips = (obj.get("status") or {}).get("podIPs") or []
        return ips[0].get("ip", "") if ips else (obj.get("status") or {}).get("podIP") or ""
    if field == "source":
        return (obj.get("source") or {}).get("component") or ""
    value: object = obj
    for part in field.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None and field in _BOOL_FIELDS:
        return "false"
    return str(value) if isinstance(value, (str, int)) else ""


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negated: bool = False

    def matches(self, obj: Mapping) -> bool:
        return (field_value(obj, self.field) == self.value) != self.negated


class FieldSelector(_AllOf):
    requirements: tuple[FieldRequirement, ...]

    def matches(self, obj: Mapping) -> bool:
        return self._all(obj)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unescape(value: str) -> str:
    out, escaped = [], False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character: {ch}")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse_field_selector(text: str, supported: frozenset[str]) -> FieldSelector:
    """Parse a ``fieldSelector`` query value against the fields the resource type supports."""
    requirements = []
    for term in sorted(_split_unescaped(text, ",")) if text else ():
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, raw = split
        value = _unescape(raw)
        if field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        requirements.append(FieldRequirement(field, value, negated=op == "!="))
    return FieldSelector(tuple(requirements))
