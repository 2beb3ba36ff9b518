"""Threads and the workspace cache: ``forget_workspaces()`` while another thread
streams lets that stream finish on its own client, new requests get fresh clients, and a forgotten
workspace is released (no reference cycle keeps it; its pool's connections are closed)."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from agent_magics import compare, stream
from agent_magics.transport.workspace import forget_workspaces, get_workspace

SLOW = {"tokens": 60, "tokens_per_second": 30}  # about 2 s of streaming


@pytest.mark.parametrize("via", ["rest", "client"])
def test_forget_while_another_thread_streams(local_workspace_env, via):
    started = threading.Event()
    outcome: dict[str, object] = {}
    before = get_workspace()

    def streamer() -> None:
        answer = stream("bench-agent", "Stream while the cache is forgotten", custom_inputs=SLOW, via=via)
        for _ in answer:
            started.set()
        outcome["result"] = answer.result

    thread = threading.Thread(target=streamer, daemon=True)
    thread.start()
    assert started.wait(60), "the stream never started"
    forget_workspaces()  # on this thread, mid-stream
    fresh = stream("demo-agent", "A new request after forgetting", via=via).result
    thread.join(60)
    result = outcome["result"]
    assert result.status == "completed", result.error  # type: ignore[attr-defined]
    assert len(result.text.split()) >= SLOW["tokens"] - 1, result.text  # type: ignore[attr-defined]
    assert fresh.ok, fresh.error
    after = get_workspace()
    assert after is not before and after.http() is not before.http()
    assert before.http().in_flight == 0
    assert before.http()._pool._pool.connections == []  # retired: its connections are closed


def test_a_forgotten_workspace_is_released_without_the_cycle_collector(local_workspace_env):
    for via in ("rest", "client"):
        assert stream("demo-agent", f"warm {via}", via=via).result.ok
    workspace = get_workspace()
    workspace.api("GET", "/api/2.0/serving-endpoints")  # a whole body read: its connection stays open
    pool = getattr(getattr(workspace.http(), "_pool", None), "_pool", None)  # the httpcore pool, if ours
    assert pool is None or pool.connections, "the requests above left a keep-alive connection"
    ref = weakref.ref(workspace)
    del workspace
    gc.collect()
    gc.disable()  # from here only reference counting frees: a cycle would keep the workspace alive
    try:
        forget_workspaces()
        assert ref() is None, [type(r).__name__ for r in gc.get_referrers(ref())]
    finally:
        gc.enable()
    assert pool is not None and pool.connections == []


@pytest.mark.parametrize("via", ["rest", "client"])
def test_compare_threads_share_cached_clients_while_the_cache_is_forgotten(local_workspace_env, via):
    targets = ["demo-agent", "bench-agent", "apps/demo-app"]
    stop = threading.Event()

    def forget_repeatedly() -> None:
        while not stop.wait(0.05):
            forget_workspaces()

    forgetter = threading.Thread(target=forget_repeatedly, daemon=True)
    forgetter.start()
    try:
        comparison = compare(targets, "Everyone at once", via=via, per_target={"bench-agent": {"custom_inputs": SLOW}})
    finally:
        stop.set()
        forgetter.join(10)
    assert [r.status for r in comparison] == ["completed"] * 3, [r.error for r in comparison]
