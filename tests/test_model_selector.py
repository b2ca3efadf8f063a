"""Calico selector parser/evaluator: syntax, precedence, canonical form, error positions, fuzz."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.model.selector import (
    ALL,
    And,
    Global,
    Has,
    InSet,
    LabelOp,
    Not,
    Or,
    Selector,
    SelectorError,
    parse_selector,
)

# --- syntax and evaluation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, labels, expected",
    [
        ("", {}, True),
        ("   \t ", {"a": "b"}, True),
        ("all()", {}, True),
        ("!all()", {"a": "b"}, False),
        ("global()", {}, True),
        ("route-reflector == 'true'", {"route-reflector": "true"}, True),
        ("route-reflector == 'true'", {"route-reflector": "false"}, False),
        ("route-reflector == 'true'", {}, False),
        ('a != "x"', {}, True),
        ('a != "x"', {"a": "x"}, False),
        ('a != "x"', {"a": "y"}, True),
        ("has(kubernetes.io/hostname)", {"kubernetes.io/hostname": ""}, True),
        ("!has(a)", {"a": "1"}, False),
        ("!has(a)", {}, True),
        ("a in {'x', 'y'}", {"a": "y"}, True),
        ("a in {'x', 'y'}", {}, False),
        ("a in {}", {"a": ""}, False),
        ("a not in {'x'}", {}, True),
        ("a not in {'x'}", {"a": "x"}, False),
        ("a not in {'x',}", {"a": "z"}, True),
        ("zone contains 'east'", {"zone": "us-east-1"}, True),
        ("zone contains 'east'", {}, False),
        ("zone starts with 'us-'", {"zone": "us-east-1"}, True),
        ("zone startswith 'eu-'", {"zone": "us-east-1"}, False),
        ("zone ends with '-1'", {"zone": "us-east-1"}, True),
        ("zone ends  with '-2'", {"zone": "us-east-1"}, False),
        ("a == 'it\"s'", {"a": 'it"s'}, True),
        ('a == "it\'s"', {"a": "it's"}, True),
        ("!!has(a)", {"a": "1"}, True),
        ("!!!has(a)", {"a": "1"}, False),
        ("(a == '1')", {"a": "1"}, True),
        ("a=='1'&&b=='2'", {"a": "1", "b": "2"}, True),
    ],
)
def test_evaluation(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(text).matches(labels) is expected


def test_and_binds_tighter_than_or() -> None:
    sel = parse_selector("a == 'x' || b == 'y' && c == 'z'")
    assert sel == Or((LabelOp("a", "==", "x"), And((LabelOp("b", "==", "y"), LabelOp("c", "==", "z")))))
    assert sel.matches({"a": "x"})
    assert not sel.matches({"b": "y"})
    assert sel.matches({"b": "y", "c": "z"})


def test_parentheses_override_precedence() -> None:
    sel = parse_selector("(a == 'x' || b == 'y') && c == 'z'")
    assert sel == And((Or((LabelOp("a", "==", "x"), LabelOp("b", "==", "y"))), LabelOp("c", "==", "z")))
    assert not sel.matches({"a": "x"})
    assert sel.matches({"a": "x", "c": "z"})


def test_negation_applies_to_one_operation() -> None:
    assert parse_selector("!has(a) && has(b)") == And((Not(Has("a")), Has("b")))
    assert parse_selector("!(has(a) && has(b))") == Not(And((Has("a"), Has("b"))))


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("", "all()"),
        ("route-reflector == 'true'", 'route-reflector == "true"'),
        ("a in {'y', 'x', 'y'}", 'a in {"x", "y"}'),
        ("a not in {}", "a not in {}"),
        ("has( a )&&!has(b)||c=='d'", '((has(a) && !has(b)) || c == "d")'),
        ("a == 'say \"hi\"'", "a == 'say \"hi\"'"),
        ("!(a == 'b')", '!a == "b"'),
        ("global( )", "global()"),
        ("x startswith 'a'", 'x starts with "a"'),
    ],
)
def test_canonical_form(text: str, canonical: str) -> None:
    assert str(parse_selector(text)) == canonical
    assert parse_selector(canonical) == parse_selector(text)


@pytest.mark.parametrize(
    "text, position, fragment",
    [
        ("a", 1, "operator after label 'a'"),
        ("a ==", 4, "quoted string"),
        ("a = 'b'", 2, "expected =="),
        ("a & b", 2, "expected &&"),
        ("a | b", 2, "expected ||"),
        ("has(a", 5, "expected )"),
        ("has()", 4, "label name"),
        ("all(x)", 4, "expected )"),
        ("(a == 'b'", 9, "expected )"),
        ("a == 'b' )", 9, "after a complete selector"),
        ("a in {'a' 'b'}", 10, "quoted string or }"),
        ("a in 'b'", 5, "expected {"),
        ("a == 'b", 5, "unterminated string"),
        ("$", 0, "unexpected character"),
        ("a == 'b' && $", 12, "unexpected character"),
        ("a is 'b'", 2, "operator after label"),
        ("a starts 'b'", 9, "'with'"),
        ("&&", 0, "found '&&'"),
        ("a == 'b' ||", 11, "end of selector"),
        ("a\n== 'b'", 1, "operator after label"),
    ],
)
def test_errors_carry_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_selector(text)
    assert info.value.position == position
    assert fragment in info.value.message
    assert f"position {position}" in str(info.value)


def test_non_string_is_a_selector_error() -> None:
    with pytest.raises(SelectorError):
        parse_selector(["all()"])  # type: ignore[arg-type]


# --- generated selectors --------------------------------------------------------------------------

labels_st = st.from_regex(r"[A-Za-z0-9_./-]{1,8}", fullmatch=True)
values_st = st.one_of(
    st.text(st.characters(blacklist_characters="\"", blacklist_categories=("Cs",)), max_size=6),
    st.text(st.characters(blacklist_characters="'", blacklist_categories=("Cs",)), max_size=6),
)
leaves = st.one_of(
    st.just(ALL),
    st.just(Global()),
    st.builds(Has, labels_st),
    st.builds(LabelOp, labels_st, st.sampled_from(["==", "!=", "contains", "starts with", "ends with"]), values_st),
    st.builds(
        lambda label, values, negated: InSet(label, tuple(sorted(set(values))), negated),
        labels_st, st.lists(values_st, max_size=3), st.booleans(),
    ),
)


def _extend(children: st.SearchStrategy[Selector]) -> st.SearchStrategy[Selector]:
    return st.one_of(
        children.filter(lambda s: not isinstance(s, Not)).map(Not),
        st.lists(children, min_size=2, max_size=3).map(lambda ops: And(tuple(ops))),
        st.lists(children, min_size=2, max_size=3).map(lambda ops: Or(tuple(ops))),
    )


selectors_st = st.recursive(leaves, _extend, max_leaves=8)


@given(selectors_st)
def test_canonical_form_round_trips(sel: Selector) -> None:
    text = str(sel)
    assert parse_selector(text) == sel
    assert str(parse_selector(text)) == text


label_maps = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["", "x", "y", "xy"]), max_size=3)
atoms = st.sampled_from([
    "has(a)", "a == 'x'", "b != 'y'", "c in {'x', 'xy'}", "a not in {'y'}", "b contains 'x'",
    "c starts with 'x'", "a ends with 'y'", "all()",
])


@given(atoms, atoms, label_maps)
def test_boolean_algebra(p: str, q: str, labels: dict[str, str]) -> None:
    """Compound selectors agree with Python's own boolean operators on the parts."""
    a, b = parse_selector(p).matches(labels), parse_selector(q).matches(labels)
    assert parse_selector(f"{p} && {q}").matches(labels) == (a and b)
    assert parse_selector(f"{p} || {q}").matches(labels) == (a or b)
    assert parse_selector(f"!({p} && {q})").matches(labels) == (not a or not b)
    assert parse_selector(f"!{p}").matches(labels) == (not a)


@settings(max_examples=400)
@given(st.text(alphabet=st.sampled_from(list("ab=!&|(){}'\", \tinotcshwalg.-/_")), max_size=30))
def test_fuzz_only_selector_errors(text: str) -> None:
    try:
        sel = parse_selector(text)
    except SelectorError as error:
        assert 0 <= error.position <= len(text)
        return
    assert parse_selector(str(sel)) == sel


@given(st.text(max_size=20))
def test_fuzz_any_unicode(text: str) -> None:
    try:
        parse_selector(text)
    except SelectorError:
        pass
