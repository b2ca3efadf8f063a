"""Server-side Tables carry the cells kubectl prints for nodes, pods and everything else."""

from datetime import datetime, timedelta, timezone

import pytest

from tui.sim.tables import human_duration, to_table, wants_table

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


def stamp(delta: timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (12, "12s"),
        (119, "119s"),
        (120, "2m"),
        (185, "3m5s"),
        (599, "9m59s"),
        (600, "10m"),
        (37 * 60 + 30, "37m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 2 * 60, "5h2m"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (5 * 86400 + 2 * 3600, "5d2h"),
        (8 * 86400 + 5 * 3600, "8d"),
        (400 * 86400, "400d"),
        (3 * 365 * 86400 + 20 * 86400, "3y20d"),
        (4 * 365 * 86400, "4y"),
        (9 * 365 * 86400 + 86400, "9y"),
    ],
)
def test_human_duration_matches_kubectl(seconds, text):
    assert human_duration(seconds) == text


def node(name="w1", ready="True", **extra):
    obj = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "creationTimestamp": stamp(timedelta(days=5, hours=2)),
                     "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"},
                           {"type": "Ready", "status": ready}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.11"},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Ubuntu 22.04.4 LTS",
                         "kernelVersion": "5.15.0-105-generic",
                         "containerRuntimeVersion": "containerd://1.7.13"},
        },
    }
    obj.update(extra)
    return obj


def test_node_table_columns_and_cells():
    table = to_table("Node", "", [node()], NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    names = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert names == [("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0),
                     ("Internal-IP", 1), ("External-IP", 1), ("OS-Image", 1),
                     ("Kernel-Version", 1), ("Container-Runtime", 1)]
    (row,) = table["rows"]
    assert row["cells"] == ["w1", "Ready", "<none>", "5d2h", "v1.32.0", "10.0.0.11", "<none>",
                            "Ubuntu 22.04.4 LTS", "5.15.0-105-generic", "containerd://1.7.13"]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": node()["metadata"]}


def test_node_status_and_roles():
    cp = node("cp1", spec={"unschedulable": True})
    cp["metadata"]["labels"].update({"node-role.kubernetes.io/control-plane": "",
                                     "node-role.kubernetes.io/": "", "kubernetes.io/role": "etcd"})
    rows = to_table("Node", "", [cp, node("w2", ready="Unknown"), node("w3", status={})], NOW)["rows"]
    assert rows[0]["cells"][1:3] == ["Ready,SchedulingDisabled", "control-plane,etcd"]
    assert rows[1]["cells"][1] == "NotReady"
    assert rows[2]["cells"][1] == "Unknown"
    assert rows[2]["cells"][5:] == ["<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]


def pod(**status):
    return {
        "metadata": {"name": "p", "namespace": "default",
                     "creationTimestamp": stamp(timedelta(minutes=37))},
        "spec": {"nodeName": "w1", "containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "Running", **status},
    }


def running(name, restarts=0, finished=None):
    cs = {"name": name, "ready": True, "restartCount": restarts, "state": {"running": {}}}
    if finished:
        cs["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": stamp(finished)}}
    return cs


def test_pod_running_wide_cells():
    p = pod(containerStatuses=[running("a"), running("b")], podIPs=[{"ip": "10.244.1.5"}])
    table = to_table("Pod", "", [p], NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node",
        "Readiness Gates"]
    assert table["rows"][0]["cells"] == ["p", "2/2", "Running", "0", "37m", "10.244.1.5", "w1",
                                         "<none>", "<none>"]


def test_pod_restarts_show_when_last():
    p = pod(containerStatuses=[running("a", 3, timedelta(minutes=5)),
                               running("b", 2, timedelta(minutes=9))])
    assert to_table("Pod", "", [p], NOW)["rows"][0]["cells"][3] == "5 (5m ago)"


@pytest.mark.parametrize(
    ("status", "word", "ready"),
    [
        ({"phase": "Pending"}, "Pending", "0/2"),
        ({"phase": "Pending", "containerStatuses": [
            {"name": "a", "ready": False, "restartCount": 0,
             "state": {"waiting": {"reason": "ContainerCreating"}}}]}, "ContainerCreating", "0/2"),
        ({"containerStatuses": [
            {"name": "a", "ready": False, "restartCount": 4,
             "state": {"waiting": {"reason": "CrashLoopBackOff"}}}, running("b")]},
         "CrashLoopBackOff", "1/2"),
        ({"phase": "Succeeded", "containerStatuses": [
            {"name": "a", "ready": False, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}, "Completed", "0/2"),
        ({"phase": "Failed", "containerStatuses": [
            {"name": "a", "ready": False, "restartCount": 0,
             "state": {"terminated": {"exitCode": 137}}}]}, "ExitCode:137", "0/2"),
        ({"phase": "Failed", "reason": "Evicted"}, "Evicted", "0/2"),
    ],
)
def test_pod_status_words(status, word, ready):
    p = pod()
    p["status"] = status
    cells = to_table("Pod", "", [p], NOW)["rows"][0]["cells"]
    assert cells[1:3] == [ready, word]


def test_pod_terminating_and_init():
    p = pod(containerStatuses=[running("a"), running("b")])
    p["metadata"]["deletionTimestamp"] = stamp(timedelta(seconds=-30))
    assert to_table("Pod", "", [p], NOW)["rows"][0]["cells"][2] == "Terminating"

    init = pod(initContainerStatuses=[
        {"name": "install-cni", "ready": False, "restartCount": 0,
         "state": {"running": {}}}])
    init["status"]["phase"] = "Pending"
    init["spec"]["initContainers"] = [{"name": "install-cni"}, {"name": "flexvol"}]
    assert to_table("Pod", "", [init], NOW)["rows"][0]["cells"][2] == "Init:0/2"


def test_pod_readiness_gates_and_unscheduled():
    p = pod()
    p["spec"] = {"containers": [{"name": "a"}], "readinessGates": [{"conditionType": "x"},
                                                                  {"conditionType": "y"}]}
    p["status"] = {"phase": "Pending", "conditions": [{"type": "x", "status": "True"}]}
    cells = to_table("Pod", "", [p], NOW)["rows"][0]["cells"]
    assert cells[5:] == ["<none>", "<none>", "<none>", "1/2"]


def test_other_kinds_get_name_and_age():
    pool = {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
            "metadata": {"name": "default-ipv4-ippool",
                         "creationTimestamp": stamp(timedelta(seconds=12))},
            "spec": {"cidr": "10.244.0.0/16"}}
    table = to_table("IPPool", "crd.projectcalico.org", [pool, {"metadata": {"name": "x"}}], NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert [r["cells"] for r in table["rows"]] == [["default-ipv4-ippool", "12s"],
                                                   ["x", "<unknown>"]]


def test_include_object_modes():
    obj = node()
    assert to_table("Node", "", [obj], NOW, include_object="Object")["rows"][0]["object"] == obj
    assert to_table("Node", "", [obj], NOW, include_object="None")["rows"][0]["object"] is None


def test_empty_table_still_has_columns():
    table = to_table("Pod", "", [], NOW)
    assert table["rows"] == [] and len(table["columnDefinitions"]) == 9


def test_naive_now_is_utc():
    naive = NOW.replace(tzinfo=None)
    assert to_table("Node", "", [node()], naive)["rows"][0]["cells"][3] == "5d2h"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
         "g=meta.k8s.io,application/json", True),
        ("application/json; as=Table; v=v1; g=meta.k8s.io", True),
        ("application/json", False),
        ("application/vnd.kubernetes.protobuf,application/json", False),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", False),
        ("", False),
    ],
)
def test_wants_table(accept, expected):
    assert wants_table(accept) is expected


def test_namespace_and_configmap_columns():
    ns = {"metadata": {"name": "kube-system", "creationTimestamp": stamp(timedelta(hours=3))},
          "status": {"phase": "Active"}}
    table = to_table("Namespace", "", [ns], NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Status", "Age"]
    assert table["rows"][0]["cells"] == ["kube-system", "Active", "3h"]
    cm = {"metadata": {"name": "kube-proxy"}, "data": {"config.conf": "x", "kubeconfig.conf": "y"},
          "binaryData": {"b": "AA=="}}
    table = to_table("ConfigMap", "", [cm], NOW)
    assert table["columnDefinitions"][1] == {"name": "Data", "type": "integer", "format": "",
                                             "description": "Number of data and binaryData keys.",
                                             "priority": 0}
    assert table["rows"][0]["cells"] == ["kube-proxy", 3, "<unknown>"]


def test_daemonset_and_deployment_columns():
    template = {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                         "containers": [{"name": "calico-node", "image": "calico/node:v3.32.1"},
                                        {"name": "sidecar", "image": "busybox"}]}}
    ds = {"metadata": {"name": "calico-node", "creationTimestamp": stamp(timedelta(days=2))},
          "spec": {"selector": {"matchLabels": {"k8s-app": "calico-node"},
                                "matchExpressions": [{"key": "tier", "operator": "In",
                                                      "values": ["b", "a"]},
                                                     {"key": "gone", "operator": "DoesNotExist"}]},
                   "template": template},
          "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                     "updatedNumberScheduled": 3, "numberAvailable": 2}}
    table = to_table("DaemonSet", "apps", [ds], NOW)
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"]
    assert table["rows"][0]["cells"] == [
        "calico-node", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "2d", "calico-node,sidecar",
        "calico/node:v3.32.1,busybox", "k8s-app=calico-node,tier in (a,b),!gone"]

    deploy = {"metadata": {"name": "web"}, "spec": {"replicas": 3, "template": {"spec": {}}},
              "status": {"readyReplicas": 1, "updatedReplicas": 3}}
    table = to_table("Deployment", "apps", [deploy], NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]
    assert table["rows"][0]["cells"] == ["web", "1/3", 3, 0, "<unknown>", "", "", "<none>"]
