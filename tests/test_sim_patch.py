"""The simulator's PATCH flavours: merge patch, JSON patch, strategic merge patch, server-side apply."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui.sim.patch import (
    ApplyConflict,
    PatchError,
    apply_merge,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)

json_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=3), json_values, max_size=4)
# Patches whose only nulls are deletions of top-level keys: inside a replaced list SMP drops nulls
# (as the typed decode on the real server does) while a merge patch keeps them.
plain_keys = st.text(alphabet="xyz0", max_size=3)  # never a field with a merge key
nonnull_values = st.recursive(
    st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(plain_keys, inner, max_size=3),
    max_leaves=10,
)
simple_patches = st.dictionaries(plain_keys, nonnull_values | st.none(), max_size=4)


# --- merge patch -----------------------------------------------------------------------------------

def test_merge_patch_rfc7386_examples():
    doc = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "l": [3], "n": {"x": None, "y": 1}}
    assert merge_patch(doc, patch) == {"a": "z", "c": {"d": "e"}, "l": [3], "n": {"y": 1}}


def test_merge_patch_replaces_scalar_with_map():
    assert merge_patch({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}


def test_merge_patch_leaves_inputs_alone():
    doc = {"a": {"b": [1]}}
    patch = {"a": {"c": [2]}}
    out = merge_patch(doc, patch)
    out["a"]["c"].append(3)
    out["a"]["b"].append(9)
    assert doc == {"a": {"b": [1]}} and patch == {"a": {"c": [2]}}


@pytest.mark.parametrize("patcher", [merge_patch, strategic_merge_patch])
def test_object_patches_must_be_objects(patcher):
    with pytest.raises(PatchError) as err:
        patcher({}, [1])
    assert err.value.code == 400


@pytest.mark.parametrize("patcher", [merge_patch, strategic_merge_patch])
@given(doc=json_objects)
def test_empty_patch_is_identity(patcher, doc):
    assert patcher(doc, {}) == doc


@given(json_objects, json_objects)
def test_merge_patch_is_idempotent(doc, patch):
    once = merge_patch(doc, patch)
    assert merge_patch(once, patch) == once


# --- JSON patch ------------------------------------------------------------------------------------

def test_json_patch_all_six_operations():
    doc = {"spec": {"list": [1, 2, 3], "a/b": 1, "m~n": 2}, "keep": True}
    ops = [
        {"op": "test", "path": "/keep", "value": True},
        {"op": "add", "path": "/spec/list/1", "value": 9},
        {"op": "add", "path": "/spec/list/-", "value": 4},
        {"op": "remove", "path": "/spec/list/0"},
        {"op": "replace", "path": "/spec/a~1b", "value": 10},
        {"op": "move", "from": "/spec/m~0n", "path": "/moved"},
        {"op": "copy", "from": "/spec/list", "path": "/copied"},
    ]
    out = json_patch(doc, ops)
    assert out == {"spec": {"list": [9, 2, 3, 4], "a/b": 10}, "keep": True, "moved": 2,
                   "copied": [9, 2, 3, 4]}
    assert doc["spec"]["list"] == [1, 2, 3]


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/a", "value": 2}],
        [{"op": "test", "path": "/a", "value": True}],  # true is not 1
        [{"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "add", "path": "/missing/child", "value": 1}],
        [{"op": "add", "path": "/l/5", "value": 1}],
        [{"op": "add", "path": "/l/01", "value": 1}],
        [{"op": "remove", "path": "/l/-"}],
        [{"op": "add", "path": "/b"}],
        [{"op": "move", "from": "/m", "path": "/m/x"}],
        [{"op": "frobnicate", "path": "/a"}],
        [{"op": "add", "path": "no-slash", "value": 1}],
        [{"op": "remove", "path": ""}],
        [{"op": "replace", "path": "", "value": [1]}],  # result must stay an object
    ],
)
def test_failed_json_patch_is_422(ops):
    doc = {"a": 1, "l": [0], "m": {}}
    with pytest.raises(PatchError) as err:
        json_patch(doc, ops)
    assert err.value.code == 422
    assert doc == {"a": 1, "l": [0], "m": {}}


@pytest.mark.parametrize("ops", [{"op": "add"}, [1], "x"])
def test_malformed_json_patch_is_400(ops):
    with pytest.raises(PatchError) as err:
        json_patch({}, ops)
    assert err.value.code == 400


def test_json_patch_test_accepts_equal_numbers():
    assert json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}]) == {"a": 1}


@given(json_objects, st.text(max_size=4).filter(lambda k: k), json_values)
def test_json_patch_add_then_remove_restores(doc, key, value):
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    doc.pop(key, None)
    added = json_patch(doc, [{"op": "add", "path": pointer, "value": value}])
    assert added[key] == value
    assert json_patch(added, [{"op": "remove", "path": pointer}]) == doc


# --- strategic merge patch -------------------------------------------------------------------------

POD = {
    "metadata": {"name": "p", "finalizers": ["a"], "labels": {"x": "1"}},
    "spec": {
        "containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}],
             "ports": [{"containerPort": 80}, {"containerPort": 443}]},
            {"name": "sidecar", "image": "side:1"},
        ],
        "tolerations": [{"key": "t1"}],
    },
    "status": {"conditions": [{"type": "Ready", "status": "False"}]},
}


def test_smp_merges_containers_by_name_and_env_by_name():
    patch = {"spec": {"containers": [
        {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]},
        {"name": "new", "image": "new:1"},
    ]}}
    out = strategic_merge_patch(POD, patch)
    names = [c["name"] for c in out["spec"]["containers"]]
    assert names == ["app", "sidecar", "new"]
    app = out["spec"]["containers"][0]
    assert app["image"] == "app:2"
    assert app["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert app["ports"] == POD["spec"]["containers"][0]["ports"]
    assert POD["spec"]["containers"][0]["image"] == "app:1"


def test_smp_container_ports_merge_by_container_port():
    patch = {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 80, "name": "http"}]}]}}
    ports = strategic_merge_patch(POD, patch)["spec"]["containers"][0]["ports"]
    assert ports == [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]


def test_smp_conditions_merge_by_type():
    patch = {"status": {"conditions": [{"type": "Ready", "status": "True"},
                                       {"type": "PodScheduled", "status": "True"}]}}
    out = strategic_merge_patch(POD, patch)
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                           {"type": "PodScheduled", "status": "True"}]


def test_smp_lists_without_strategy_are_replaced():
    out = strategic_merge_patch(POD, {"spec": {"tolerations": [{"key": "t2"}]}})
    assert out["spec"]["tolerations"] == [{"key": "t2"}]
    node = {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}}
    taints = [{"key": "b", "effect": "NoExecute"}]
    assert strategic_merge_patch(node, {"spec": {"taints": taints}})["spec"]["taints"] == taints


def test_smp_finalizers_are_a_merged_set():
    out = strategic_merge_patch(POD, {"metadata": {"finalizers": ["b", "a"]}})
    assert out["metadata"]["finalizers"] == ["a", "b"]
    out = strategic_merge_patch(out, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == ["b"]


def test_smp_node_addresses_merge_by_type():
    node = {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                                     {"type": "Hostname", "address": "w1"}]}}
    patch = {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.9"}]}}
    out = strategic_merge_patch(node, patch)
    assert out["status"]["addresses"] == [{"type": "InternalIP", "address": "10.0.0.9"},
                                          {"type": "Hostname", "address": "w1"}]


def test_smp_null_deletes_and_cordon_patch():
    node = {"metadata": {"name": "w1", "labels": {"a": "1", "b": "2"}}, "spec": {"podCIDR": "x"}}
    out = strategic_merge_patch(node, {"metadata": {"labels": {"a": None}},
                                       "spec": {"unschedulable": True}})
    assert out == {"metadata": {"name": "w1", "labels": {"b": "2"}},
                   "spec": {"podCIDR": "x", "unschedulable": True}}


def test_smp_patch_directives():
    deleted = strategic_merge_patch(POD, {"spec": {"containers": [{"name": "sidecar",
                                                                   "$patch": "delete"}]}})
    assert [c["name"] for c in deleted["spec"]["containers"]] == ["app"]

    replaced = strategic_merge_patch(POD, {"spec": {"containers": [{"$patch": "replace"},
                                                                    {"name": "only"}]}})
    assert replaced["spec"]["containers"] == [{"name": "only"}]

    map_replaced = strategic_merge_patch(POD, {"metadata": {"labels": {"$patch": "replace", "y": "2"}}})
    assert map_replaced["metadata"]["labels"] == {"y": "2"}

    map_deleted = strategic_merge_patch(POD, {"status": {"$patch": "delete"}})
    assert "status" not in map_deleted


def test_smp_retain_keys_clears_other_fields():
    deploy = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge_patch(deploy, patch) == {"spec": {"strategy": {"type": "Recreate"}}}
    with pytest.raises(PatchError):
        strategic_merge_patch(deploy, {"spec": {"strategy": {"$retainKeys": ["x"], "type": "R"}}})


def test_smp_set_element_order_is_applied_and_never_stored():
    patch = {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
        "containers": [{"name": "app", "image": "app:3"}],
    }}
    out = strategic_merge_patch(POD, patch)
    assert [c["name"] for c in out["spec"]["containers"]] == ["sidecar", "app"]
    assert "$setElementOrder/containers" not in out["spec"]
    assert "$" not in repr(out)


def test_smp_strips_directives_from_new_content():
    out = strategic_merge_patch({}, {"spec": {"containers": [{"name": "a", "env": [
        {"name": "X", "value": "1", "$patch": "merge"}]}], "x": {"$retainKeys": ["y"], "y": 1,
                                                                   "z": None}}})
    assert out == {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}],
                            "x": {"y": 1}}}


def test_smp_errors():
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(POD, {"spec": {"containers": [{"image": "no-name"}]}})
    assert err.value.code == 422
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(POD, {"spec": {"$patch": "bogus"}})
    assert err.value.code == 400



@given(json_objects, simple_patches)
def test_smp_without_merge_keys_equals_merge_patch(doc, patch):
    # None of these keys name a list with a strategy, so SMP must behave as a JSON merge patch.
    assert strategic_merge_patch(doc, patch) == merge_patch(doc, patch)


# --- server-side apply -----------------------------------------------------------------------------

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
      "data": {"a": "1", "b": "2"}}


def test_apply_creates_with_managed_fields():
    out = apply_merge(None, CM, "kubectl", force=False)
    assert out["data"] == {"a": "1", "b": "2"}
    (entry,) = out["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply"
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}
    assert "managedFields" not in CM["metadata"]


def test_apply_removes_fields_the_manager_stopped_sending():
    live = apply_merge(None, CM, "kubectl", force=False)
    live["data"]["other"] = "kept"  # written by someone who owns nothing via apply
    smaller = copy.deepcopy(CM)
    del smaller["data"]["b"]
    out = apply_merge(live, smaller, "kubectl", force=False)
    assert out["data"] == {"a": "1", "other": "kept"}


def test_apply_conflict_and_force():
    live = apply_merge(None, CM, "alice", force=False)
    changed = copy.deepcopy(CM)
    changed["data"]["a"] = "X"
    with pytest.raises(ApplyConflict) as err:
        apply_merge(live, changed, "bob", force=False)
    assert err.value.code == 409
    assert err.value.causes == [{"reason": "FieldManagerConflict", "message": 'conflict with "alice"',
                                 "field": ".data.a"}]
    out = apply_merge(live, changed, "bob", force=True)
    assert out["data"]["a"] == "X"
    owners = {e["manager"]: e["fieldsV1"] for e in out["metadata"]["managedFields"]}
    assert owners["alice"] == {"f:data": {"f:b": {}}}
    assert owners["bob"] == {"f:data": {"f:a": {}, "f:b": {}}}


def test_apply_same_value_is_shared_ownership_not_conflict():
    live = apply_merge(None, CM, "alice", force=False)
    out = apply_merge(live, CM, "bob", force=False)
    assert {e["manager"] for e in out["metadata"]["managedFields"]} == {"alice", "bob"}
    only_a = copy.deepcopy(CM)
    del only_a["data"]["b"]
    out = apply_merge(out, only_a, "bob", force=False)
    assert out["data"] == {"a": "1", "b": "2"}  # alice still owns b


def test_apply_merges_keyed_lists_and_drops_items():
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
              "spec": {"template": {"spec": {"containers": [
                  {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}}
    live = apply_merge(None, deploy, "kubectl", force=False)
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"  # defaulted
    one = copy.deepcopy(deploy)
    one["spec"]["template"]["spec"]["containers"] = [{"name": "a", "image": "a:2"}]
    out = apply_merge(live, one, "kubectl", force=False)
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "a:2", "imagePullPolicy": "Always"}]
    fields = out["metadata"]["managedFields"][0]["fieldsV1"]
    item = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"a"}']
    assert item == {".": {}, "f:image": {}, "f:name": {}}


def test_apply_needs_an_object():
    with pytest.raises(PatchError) as err:
        apply_merge(None, [], "m", force=False)
    assert err.value.code == 400
