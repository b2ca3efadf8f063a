"""The store's revisions and history, the simulated clock, and the Api's in-process contract."""

from __future__ import annotations

import asyncio

import pytest

from tui.sim import builtin_cluster
from tui.sim.api import Api
from tui.sim.clock import Clock, parse_rfc3339, rfc3339
from tui.sim.errors import ApiError
from tui.sim.store import Store, TooOld

KEY = ("", "configmaps")


def cm(name: str, **data) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": data}


def test_revisions_history_and_time_travel():
    store = Store(history_size=3)
    a = store.create(KEY, cm("a"))
    store.update(KEY, cm("a", x="1"))
    store.create(KEY, cm("b"))
    store.delete(KEY, "default", "a")
    assert a["metadata"]["resourceVersion"] == "1" and store.resource_version == 4
    assert [e.type for e in store.events_since(1)] == ["MODIFIED", "ADDED", "DELETED"]
    assert store.events_since(4) == []
    with pytest.raises(TooOld) as info:
        store.events_since(0)
    assert str(info.value) == "too old resource version: 0 (1)"
    assert [o["metadata"]["name"] for o in store.list_at(KEY, 3)] == ["a", "b"]
    assert store.list_at(KEY, 2)[0]["data"] == {"x": "1"}
    deleted = store.events_since(3)[0]
    assert deleted.obj["metadata"]["resourceVersion"] == "4" and deleted.old["metadata"]["resourceVersion"] == "2"


def test_restore_is_a_diff_of_ordinary_commits():
    store = Store()
    store.create(KEY, cm("a"))
    snapshot = store.snapshot()
    store.create(KEY, cm("b"))
    store.update(KEY, cm("a", changed="yes"))
    seen = []
    store.listen(lambda e: seen.append((e.type, e.obj["metadata"]["name"])))
    store.restore(snapshot)
    assert sorted(seen) == [("DELETED", "b"), ("MODIFIED", "a")]
    assert store.list(KEY)[0].get("data") == {} and store.resource_version == 5


def test_clock_freeze_step_and_sleep():
    clock = Clock(start=1_700_000_000, speed=10)
    clock.freeze()
    assert clock.now() == pytest.approx(1_700_000_000, abs=1) and clock.now() == clock.now()
    assert rfc3339(clock.now()) == "2023-11-14T22:13:20Z" and parse_rfc3339(clock.timestamp()) == int(clock.now())

    async def scenario():
        clock.attach(asyncio.get_running_loop())
        sleeper = asyncio.ensure_future(clock.sleep(60))
        await asyncio.sleep(0.05)
        assert not sleeper.done()
        clock.step(30)
        await asyncio.sleep(0.01)
        assert not sleeper.done()
        clock.step(30)
        await asyncio.wait_for(sleeper, 1)
        clock.unfreeze()
        started = asyncio.get_running_loop().time()
        await clock.sleep(2)  # two simulated seconds at 10x
        assert asyncio.get_running_loop().time() - started < 1

    asyncio.run(scenario())
    with pytest.raises(ValueError):
        clock.step(-1)


def test_api_in_process_contract():
    api = Api(clock=Clock(start=1_700_000_000))
    api.load(builtin_cluster.objects())
    configmaps = api.type("configmaps")
    seen = []
    api.subscribe(lambda kind, res, obj, old: seen.append((kind, res.plural, obj["metadata"]["name"])))
    created = api.create(configmaps, "default", cm("a"))
    created["data"] = {"mutated": "locally"}
    assert api.get(configmaps, "default", "a")["data"] == {}
    items, rv = api.list(configmaps, "default")
    assert [i["metadata"]["name"] for i in items] == ["a"] and rv == str(api.store.resource_version)
    api.patch(configmaps, "default", "a", {"data": {"k": "v"}}, "application/merge-patch+json")
    status = api.delete(configmaps, "default", "a")
    assert status["status"] == "Success"
    assert seen == [("ADDED", "configmaps", "a"), ("MODIFIED", "configmaps", "a"), ("DELETED", "configmaps", "a")]
    with pytest.raises(ApiError) as info:
        api.get(configmaps, "default", "a")
    assert info.value.code == 404


def test_subscribers_may_write_and_see_events_in_commit_order():
    api = Api()
    api.load(builtin_cluster.objects())
    configmaps = api.type("configmaps")
    seen = []

    def mirror(kind, res, obj, old):
        seen.append((kind, obj["metadata"]["name"]))
        if kind == "ADDED" and obj["metadata"]["name"] == "source":
            api.create(configmaps, "default", cm("copy"))

    api.subscribe(mirror)
    api.create(configmaps, "default", cm("source"))
    assert seen == [("ADDED", "source"), ("ADDED", "copy")]


def drain(watch) -> list:
    out = []
    while not watch.queue.empty():
        item = watch.queue.get_nowait()
        out.append(item if item is None else (item[0], item[1]["metadata"]["name"]))
    return out


def test_in_process_watch_and_a_consumer_too_far_behind(monkeypatch):
    api = Api()
    api.load(builtin_cluster.objects())
    configmaps = api.type("configmaps")
    watch = api.watch(configmaps, "default", label_selector="app=web", resource_version=str(api.store.resource_version))
    api.create(configmaps, "default", {**cm("a"), "metadata": {"name": "a", "labels": {"app": "web"}}})
    api.create(configmaps, "default", cm("b"))
    assert drain(watch) == [("ADDED", "a")]
    monkeypatch.setattr("tui.sim.api.WATCH_QUEUE_LIMIT", 2)
    for name in ("c", "d", "e"):
        api.create(configmaps, "default", {**cm(name), "metadata": {"name": name, "labels": {"app": "web"}}})
    assert drain(watch) == [("ADDED", "c"), ("ADDED", "d"), None]
    assert watch.closed
