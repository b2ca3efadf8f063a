"""`calico-tui sim`: host actions and controller control against a running simulator."""

import json

import pytest

from cluster_fixtures import cluster  # noqa: F401 (fixture)
from tui.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scenarios_are_listed(capsys):
    code, out, _ = run(capsys, "sim", "scenarios")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["large", "operator", "seed"]


def test_host_actions_and_controllers_from_the_command_line(cluster, capsys):
    sim, clients = cluster
    kc = str(sim.kubeconfig_path)
    code, out, _ = run(capsys, "--kubeconfig", kc, "sim", "host", "node02", "edit-kcm",
                       "--cluster-cidr", "172.21.0.0/16")
    assert code == 0 and "--cluster-cidr=172.21.0.0/16" in out
    code, out, _ = run(capsys, "sim", "--kubeconfig", kc, "controllers", "settle", "30")
    assert code == 0 and json.loads(out)["advanced"] > 0
    pod = clients.core.read_namespaced_pod("kube-controller-manager-node02", "kube-system")
    assert pod.status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"
    code, out, _ = run(capsys, "sim", "--kubeconfig", kc, "hosts")
    hosts = json.loads(out)
    assert code == 0 and sorted(hosts) == [f"node{i:02d}" for i in range(1, 11)]
    command = hosts["node02"]["staticPods"]["kube-controller-manager"]["spec"]["containers"][0]["command"]
    assert "--cluster-cidr=172.21.0.0/16" in command


def test_bad_host_actions_are_one_line_errors(cluster, capsys):
    kc = str(cluster[0].kubeconfig_path)
    code, _, err = run(capsys, "sim", "--kubeconfig", kc, "host", "node99", "restart-kubelet")
    assert code == 1 and "no host named 'node99'" in err and "Traceback" not in err
    code, _, err = run(capsys, "sim", "--kubeconfig", kc, "host", "node05", "edit-kcm", "--cluster-cidr", "10.0.0.0/8")
    assert code == 1 and "not a control-plane node" in err
    with pytest.raises(SystemExit):
        main(["sim", "--kubeconfig", kc, "host", "node01", "edit-kcm"])
