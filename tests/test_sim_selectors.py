"""Label and field selectors behave like the apiserver's."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui.model.k8s_selectors import (
    SelectorError,
    field_value,
    parse_field_selector,
    parse_label_selector,
    supported_fields,
)

LABELS = {"app": "web", "tier": "front", "k8s-app": "calico-node", "n": "7"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("   ", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),  # != matches objects lacking the label
        ("app in (web,db)", True),
        ("app in (db)", False),
        ("app notin (db)", True),
        ("app notin (web)", False),
        ("missing notin (a)", True),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("app = web , tier in ( front )", True),
        ("k8s-app=calico-node", True),
        ("n>5", True),
        ("n<5", False),
        ("app>5", False),  # not an integer: no match
        ("missing in ()", False),
        ("missing notin ()", True),
    ],
)
def test_label_selector_matches(selector, expected):
    assert parse_label_selector(selector).matches(LABELS) is expected


def test_label_selector_on_object_without_labels():
    assert parse_label_selector("a!=b").matches(None)
    assert not parse_label_selector("a").matches(None)
    assert parse_label_selector("").matches(None)


def test_empty_flag():
    assert parse_label_selector("").empty
    assert not parse_label_selector("a").empty


def test_in_and_notin_are_ordinary_words_outside_operator_position():
    sel = parse_label_selector("in in (notin)")
    assert sel.matches({"in": "notin"})
    assert not sel.matches({"in": "x"})


def test_empty_values_in_sets():
    sel = parse_label_selector("a in (x,,y)")
    assert sel.matches({"a": ""})
    assert sel.matches({"a": "y"})
    assert parse_label_selector("a=").matches({"a": ""})


@pytest.mark.parametrize(
    "selector",
    [
        "a=b=c",
        "a in b",
        "a in (b",
        "a in (b c)",
        "=a",
        ",a",
        "a,",
        "a b",
        "!a=b",
        "a>x",
        "a<",
        "a=-x",  # value must start with an alphanumeric
        "-a=b",
        "a=" + "x" * 64,
        "x" * 64,
        "Example.com/a=b",  # prefix must be lowercase
        "/a",
        "a/b/c",
        "example.com/",
        "a in ((b))",
        "a notin",
    ],
)
def test_bad_label_selectors_are_errors(selector):
    with pytest.raises(SelectorError):
        parse_label_selector(selector)


def test_qualified_keys_and_limits_accepted():
    name = "a" * 63
    sel = parse_label_selector(f"node-role.kubernetes.io/{name}")
    assert sel.matches({f"node-role.kubernetes.io/{name}": ""})
    assert parse_label_selector("a=" + "v" * 63).matches({"a": "v" * 63})


@given(st.text(alphabet=st.sampled_from(list("ab=!(),<> in-/._9")), max_size=30))
def test_random_label_selectors_only_raise_selector_error(text):
    try:
        sel = parse_label_selector(text)
    except SelectorError:
        return
    sel.matches({"a": "b", "in": "9"})


@given(st.text(max_size=40))
def test_arbitrary_text_only_raises_selector_error(text):
    try:
        parse_label_selector(text)
    except SelectorError:
        pass
    try:
        parse_field_selector(text, supported_fields("", "pods"))
    except SelectorError:
        pass


POD = {
    "metadata": {"name": "p1", "namespace": "default"},
    "spec": {"nodeName": "w1", "restartPolicy": "Always"},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("spec.nodeName=w1", True),
        ("spec.nodeName==w1", True),
        ("spec.nodeName!=w1", False),
        ("spec.nodeName=w2", False),
        ("spec.nodeName=w1,status.phase=Running", True),
        ("spec.nodeName=w1,status.phase=Pending", False),
        ("metadata.name=p1,metadata.namespace=default", True),
        ("status.podIP=10.0.0.5", True),
        ("spec.hostNetwork=false", True),
        ("spec.schedulerName=", True),  # absent reads as ""
        ("status.nominatedNodeName!=", False),
    ],
)
def test_pod_field_selectors(selector, expected):
    assert parse_field_selector(selector, supported_fields("", "pods")).matches(POD) is expected


def test_node_unschedulable_reads_as_lowercase_bool():
    nodes = supported_fields("", "nodes")
    cordoned = {"metadata": {"name": "w1"}, "spec": {"unschedulable": True}}
    fresh = {"metadata": {"name": "w2"}, "spec": {}}
    sel = parse_field_selector("spec.unschedulable=true", nodes)
    assert sel.matches(cordoned) and not sel.matches(fresh)
    assert parse_field_selector("spec.unschedulable=false", nodes).matches(fresh)


def test_event_fields():
    event = {
        "metadata": {"name": "e", "namespace": "kube-system"},
        "involvedObject": {"kind": "Pod", "name": "p1", "uid": "u1"},
        "source": {"component": "kubelet"},
        "type": "Warning",
        "reason": "BackOff",
    }
    fields = supported_fields("", "events")
    sel = parse_field_selector("involvedObject.kind=Pod,involvedObject.name=p1,source=kubelet,"
                               "type=Warning", fields)
    assert sel.matches(event)
    assert not parse_field_selector("reason=Killing", fields).matches(event)


@pytest.mark.parametrize(
    ("group", "plural", "field"),
    [
        ("", "pods", "spec.containers"),
        ("", "nodes", "metadata.namespace"),  # nodes only know metadata.name
        ("", "configmaps", "data.x"),
        ("crd.projectcalico.org", "ippools", "spec.cidr"),
    ],
)
def test_unsupported_field_is_an_error_naming_it(group, plural, field):
    with pytest.raises(SelectorError, match=f"field label not supported: {field}"):
        parse_field_selector(f"{field}=x", supported_fields(group, plural))


def test_custom_resources_support_name_and_namespace():
    fields = supported_fields("crd.projectcalico.org", "ippools")
    pool = {"metadata": {"name": "default-ipv4-ippool"}}
    assert parse_field_selector("metadata.name=default-ipv4-ippool", fields).matches(pool)
    assert parse_field_selector("metadata.namespace=", fields).matches(pool)


def test_escaped_values():
    fields = supported_fields("", "configmaps")
    obj = {"metadata": {"name": "a,b=c\\d"}}
    assert parse_field_selector(r"metadata.name=a\,b\=c\\d", fields).matches(obj)


@pytest.mark.parametrize("selector", ["metadata.name", r"metadata.name=a\x", "metadata.name=a\\",
                                      "metadata.name=a=b"])
def test_bad_field_selectors(selector):
    with pytest.raises(SelectorError):
        parse_field_selector(selector, supported_fields("", "pods"))


def test_field_value_handles_non_scalars_as_empty():
    assert field_value(POD, "status.podIPs") == ""
    assert field_value({"status": {"replicas": 3}}, "status.replicas") == "3"
