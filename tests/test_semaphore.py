"""Semaphore and BoundedSemaphore in one process: settings, leases, loss, waking, fairness, keys, metrics."""

from __future__ import annotations

import threading
import time

import pytest
from redis.cluster import key_slot

import hotsync
from hotsync._renewal import scheduler


def meta(prefix, key):
    return f"{{{prefix}{key}}}:meta"


# -- settings stored in Redis ---------------------------------------------------


def test_the_first_creator_stores_the_value_and_a_different_value_raises_a_conflict(client, raw, prefix):
    hotsync.Semaphore(3, "cap", client)
    stored = raw.hgetall(meta(prefix, "cap"))
    assert {k: stored[k] for k in (b"initial", b"capacity", b"kind")} == {
        b"initial": b"3", b"capacity": b"3", b"kind": b"semaphore"}
    assert raw.llen(f"{prefix}cap") == 3  # and minted its three tokens
    hotsync.Semaphore(3, "cap", client)  # same settings: fine
    with pytest.raises(hotsync.ConfigConflictError) as err:
        hotsync.Semaphore(5, "cap", client)
    assert isinstance(err.value, ValueError) and err.value.key == "cap"
    message = str(err.value)
    assert "'cap'" in message and "Semaphore(3)" in message and "Semaphore(5)" in message


def test_a_bounded_semaphore_on_a_plain_semaphores_key_is_a_conflict(client):
    hotsync.Semaphore(2, "kind", client)
    with pytest.raises(hotsync.ConfigConflictError, match=r"Semaphore\(2\).*BoundedSemaphore\(2\)"):
        hotsync.BoundedSemaphore(2, "kind", client)


def test_capacity_raised_by_release_does_not_make_the_initial_value_conflict(client):
    a = hotsync.Semaphore(1, "raised", client)
    a.release(2)
    b = hotsync.Semaphore(1, "raised", client)  # still created with 1: no conflict
    assert b.statistics().capacity == 3


def test_settings_recreated_with_another_value_are_caught_by_acquire_and_release(client, raw, prefix):
    sem = hotsync.Semaphore(2, "re", client)
    assert sem.acquire() and sem.acquire()
    raw.delete(meta(prefix, "re"))
    hotsync.Semaphore(7, "re", client)  # someone re-creates the key with another limit
    errors = []

    def other_thread():  # a new holder registers: the settings are checked there
        try:
            sem.acquire(False)
        except hotsync.ConfigConflictError as exc:
            errors.append(exc)

    t = threading.Thread(target=other_thread)
    t.start()
    t.join(10)
    assert len(errors) == 1
    with pytest.raises(hotsync.ConfigConflictError):
        sem.release(2)  # the release script checks them too


def test_deleted_settings_are_stored_again_by_the_next_acquire(client, raw, prefix):
    sem = hotsync.Semaphore(2, "gone", client)
    raw.delete(meta(prefix, "gone"))
    assert sem.acquire(False)
    assert raw.hget(meta(prefix, "gone"), "capacity") == b"2"
    sem.release()


def test_constructor_validates_value_and_lease(client):
    with pytest.raises(TypeError):
        hotsync.Semaphore(1.5, "v", client)
    with pytest.raises(ValueError):
        hotsync.Semaphore(1, "v", client, lease=0)
    with pytest.raises(ValueError):
        hotsync.Semaphore(1, "v", client, lease=float("nan"))
    with pytest.raises(TypeError):
        hotsync.Semaphore(1, "v", client, lease="10")
    with pytest.raises(TypeError):
        hotsync.Semaphore(1, "v", client).release(1.0)


def test_the_capacity_is_bounded_because_every_permit_is_a_token_in_redis(client, raw, prefix):
    from hotsync.semaphore import MAX_PERMITS

    with pytest.raises(ValueError, match="at most 1,000,000"):
        hotsync.Semaphore(MAX_PERMITS + 1, "huge", client)
    assert not raw.exists(meta(prefix, "huge"))
    sem = hotsync.Semaphore(MAX_PERMITS - 2, "big", client)
    sem.release(2)  # up to the bound: fine
    with pytest.raises(ValueError, match="past 1,000,000"):
        sem.release()
    assert raw.hget(meta(prefix, "big"), "capacity") == str(MAX_PERMITS).encode()
    assert raw.llen(f"{prefix}big") == MAX_PERMITS


# -- release semantics ------------------------------------------------------------


def test_release_by_a_non_holder_raises_the_shared_capacity_for_every_object(client, raw, prefix):
    holder, other = hotsync.Semaphore(1, "nh", client), hotsync.Semaphore(1, "nh", client)
    assert holder.acquire()
    other.release()  # holds nothing: adds a permit, does not free the holder's
    assert holder.held == 1 and raw.llen(f"{prefix}nh") == 1  # the new token; the holder keeps its own
    assert raw.hget(meta(prefix, "nh"), "capacity") == b"2"
    third = hotsync.Semaphore(1, "nh", client)
    assert third.acquire(False) and not third.acquire(False)
    stats = third.statistics()
    assert (stats.capacity, stats.in_use, stats.value, stats.held) == (2, 2, 0, 1)


def test_bounded_release_by_a_non_holder_raises_even_while_others_hold_permits(client, raw, prefix):
    holder, other = hotsync.BoundedSemaphore(2, "bnh", client), hotsync.BoundedSemaphore(2, "bnh", client)
    holder.acquire()
    with pytest.raises(hotsync.SemaphoreOverReleaseError):
        other.release()
    assert raw.llen(f"{prefix}bnh") == 1 and raw.hget(meta(prefix, "bnh"), "capacity") == b"2"
    holder.release()


def test_release_returns_this_objects_permits_then_adds_the_rest(client, raw, prefix):
    sem = hotsync.Semaphore(2, "mix", client)
    sem.acquire()
    sem.release(3)
    assert raw.llen(f"{prefix}mix") == 4
    assert sem.statistics() == hotsync.SemaphoreStatistics(4, 4, 2, 0, 0, 0)


def test_statistics_is_a_frozen_record_of_value_in_use_and_waiting(client):
    sem = hotsync.Semaphore(2, "st", client)
    sem.acquire()
    waiter = threading.Thread(target=lambda: hotsync.Semaphore(2, "st", client).acquire(timeout=1))
    sem.acquire()
    waiter.start()
    deadline = time.monotonic() + 5
    while sem.statistics().waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    stats = sem.statistics()
    assert stats == hotsync.SemaphoreStatistics(value=0, capacity=2, initial=2, in_use=2, waiting=1, held=2)
    with pytest.raises(AttributeError):
        stats.value = 5  # type: ignore[misc]
    sem.release(2)
    waiter.join(10)


# -- waiting ---------------------------------------------------------------------------


def test_release_wakes_a_blocked_waiter_without_polling(client):
    holder = hotsync.Semaphore(1, "wake", client, lease=30)
    holder.acquire()
    done = {}

    def wait():
        start = time.monotonic()
        done["ok"] = hotsync.Semaphore(1, "wake", client, lease=30).acquire(timeout=20)
        done["waited"] = time.monotonic() - start

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.3)
    holder.release()
    t.join(20)
    assert done["ok"] and done["waited"] < 5  # woken by the release, far before the 30 s lease bound


def test_capacity_added_by_release_wakes_that_many_waiters(client):
    woke = []
    threads = [
        threading.Thread(target=lambda: woke.append(hotsync.Semaphore(0, "add", client).acquire(timeout=20)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    time.sleep(0.3)
    hotsync.Semaphore(0, "add", client).release(3)
    time.sleep(1.0)
    assert woke == [True, True, True]
    hotsync.Semaphore(0, "add", client).release()
    for t in threads:
        t.join(20)
    assert woke == [True] * 4


def test_an_ended_lease_frees_the_permit_for_waiters_without_any_release(client):
    dead = hotsync.Semaphore(1, "exp", client, lease=0.5, auto_renew=False)
    dead.acquire()
    start = time.monotonic()
    assert hotsync.Semaphore(1, "exp", client).acquire(timeout=10)
    assert time.monotonic() - start < 0.5 + 1.0


def test_a_waiter_that_times_out_leaves_no_registration(client, raw):
    holder = hotsync.Semaphore(1, "to", client)
    holder.acquire()
    other = hotsync.Semaphore(1, "to", client)
    assert not other.acquire(timeout=0.1)
    assert raw.zcard(other._waiting_key) == 0
    holder.release()


def test_a_released_permit_goes_to_a_registered_waiter_not_to_a_newcomer(client, raw):
    holder = hotsync.Semaphore(1, "hand", client)
    holder.acquire()
    waiter = hotsync.Semaphore(1, "hand", client)
    got = []
    t = threading.Thread(target=lambda: got.append(waiter.acquire(timeout=20)))
    t.start()
    _wait_until(lambda: raw.zcard(holder._waiting_key) == 1)
    holder.release()  # the server hands the token to the blocked waiter at once
    assert not hotsync.Semaphore(1, "hand", client).acquire(False)
    t.join(20)
    assert got == [True] and waiter.held == 1
    waiter.release()


# -- leases -----------------------------------------------------------------------------


def test_auto_renew_keeps_short_leases_for_several_lease_periods(client):
    sem = hotsync.Semaphore(2, "renew", client, lease=0.3)
    sem.acquire()
    sem.acquire()
    time.sleep(1.2)
    assert not sem.lost.is_set() and sem.statistics().in_use == 2
    assert not hotsync.Semaphore(2, "renew", client).acquire(blocking=False)
    sem.release(2)


def test_a_deleted_permit_is_reported_lost_promptly_and_release_raises(client, raw, prefix):
    seen = []
    sem = hotsync.Semaphore(1, "del", client, lease=0.6, on_lost=seen.append)
    sem.acquire()
    raw.delete(f"{{{prefix}del}}:holders")  # its registration vanishes (as if reaped)
    assert sem.lost.wait(0.6 / 3 + 1.0)
    assert seen == [sem]
    with pytest.raises(hotsync.LockNotOwnedError) as err:
        sem.release()
    assert isinstance(err.value, RuntimeError) and err.value.key == "del"
    assert sem.held == 0


def test_a_reclaimed_permit_makes_release_raise_without_adding_capacity(client, raw, prefix):
    sem = hotsync.Semaphore(1, "recl", client, lease=0.2, auto_renew=False)
    sem.acquire()
    time.sleep(0.3)
    other = hotsync.Semaphore(1, "recl", client)
    assert other.acquire(False)  # reclaims the ended lease
    with pytest.raises(hotsync.LockNotOwnedError):
        sem.release()
    assert raw.hget(meta(prefix, "recl"), "capacity") == b"1"  # the lost permit was not turned into capacity
    other.release()


def test_an_expired_but_unreclaimed_permit_is_still_released_normally(client, raw, prefix):
    keeper = hotsync.Semaphore(2, "late", client, lease=30)  # keeps the permits key alive
    keeper.acquire()
    sem = hotsync.Semaphore(2, "late", client, lease=0.2, auto_renew=False)
    sem.acquire()
    time.sleep(0.3)
    assert raw.llen(f"{prefix}late") == 0
    sem.release()  # nobody took its place, so no overlap happened: no error
    assert raw.llen(f"{prefix}late") == 1 and sem.statistics().capacity == 2
    keeper.release()


def test_renewals_use_the_one_scheduler_thread_for_all_permits(client):
    sems = [hotsync.Semaphore(3, f"many{i}", client, lease=5) for i in range(10)]
    for sem in sems:
        sem.acquire()
        sem.acquire()
    assert [t.name for t in threading.enumerate()].count("hotsync-renewal") == 1
    assert scheduler().pending() >= 10  # one heartbeat per holder (object and thread), not per permit
    for sem in sems:
        sem.release(2)


# -- fairness ---------------------------------------------------------------------------


def _wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert predicate()


def test_fair_semaphore_serves_waiters_in_arrival_order(client, raw):
    holder = hotsync.Semaphore(2, "fifo", client, fair=True)
    holder.acquire()
    holder.acquire()
    order, threads, sems = [], [], []
    for i in range(5):
        sem = hotsync.Semaphore(2, "fifo", client, fair=True)
        sems.append(sem)
        t = threading.Thread(target=lambda sem=sem, i=i: sem.acquire(timeout=20) and order.append(i))
        t.start()
        threads.append(t)
        _wait_until(lambda: raw.zcard(holder._line_key) == i + 1)
    # one release at a time, each followed by its grant: the grants must follow arrival order
    for n, release in enumerate([holder.release, holder.release, sems[0].release, sems[1].release, sems[2].release]):
        release()
        _wait_until(lambda: len(order) == n + 1)
    for t in threads:
        t.join(20)
    assert order == [0, 1, 2, 3, 4]
    for sem in sems[3:]:
        sem.release()


def test_fair_non_blocking_acquire_does_not_jump_the_line(client, raw):
    holder = hotsync.Semaphore(1, "fnb", client, fair=True)
    holder.acquire()
    waiting = threading.Thread(target=lambda: hotsync.Semaphore(1, "fnb", client, fair=True).acquire(timeout=1))
    waiting.start()
    _wait_until(lambda: raw.zcard(holder._line_key) == 1)
    raw.lpush(holder._main, raw.lindex(holder._main, 0) or b"x")  # a permit is free, but someone is in line
    assert not hotsync.Semaphore(1, "fnb", client, fair=True).acquire(blocking=False)
    waiting.join(10)


def test_fair_waiter_that_gives_up_leaves_the_line(client, raw):
    holder = hotsync.Semaphore(1, "fgive", client, fair=True)
    holder.acquire()
    assert not hotsync.Semaphore(1, "fgive", client, fair=True).acquire(timeout=0.2)
    assert raw.zcard(holder._line_key) == 0 and raw.zcard(holder._tickets_key) == 0
    holder.release()


def test_fair_release_of_several_permits_wakes_several_waiters(client, raw):
    holder = hotsync.Semaphore(3, "fmany", client, fair=True)
    for _ in range(3):
        holder.acquire()
    woke = []
    threads = [
        threading.Thread(target=lambda: woke.append(hotsync.Semaphore(3, "fmany", client, fair=True).acquire(timeout=20)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    _wait_until(lambda: raw.zcard(holder._line_key) == 3)
    start = time.monotonic()
    holder.release(3)
    for t in threads:
        t.join(20)
    assert woke == [True] * 3 and time.monotonic() - start < 5


# -- keys -------------------------------------------------------------------------------


def test_an_idle_semaphore_keeps_only_its_settings_and_free_tokens(client, raw, prefix):
    for name, kind, fair in (("a", "Semaphore", False), ("b", "BoundedSemaphore", False), ("c", "Semaphore", True)):
        holder = getattr(hotsync, kind)(1, name, client, fair=fair)
        with holder:
            other = getattr(hotsync, kind)(1, name, client, fair=fair)
            assert not other.acquire(timeout=0.1)  # a waiter that gave up
            assert not other.acquire(False)
        released_to = threading.Thread(target=lambda h=holder: h.acquire(timeout=5) and h.release())
        released_to.start()
        released_to.join(10)
    raw.delete(f"{prefix}hotsync:index")
    remaining = sorted(k for k in raw.keys("*") if raw.pttl(k) == -1)
    assert remaining == sorted([meta(prefix, n).encode() for n in "abc"] + [f"{prefix}{n}".encode() for n in "abc"])
    assert all(raw.llen(f"{prefix}{n}") == 1 for n in "abc")
    assert all(raw.pttl(k) > 0 for k in raw.keys("*") if k not in remaining)  # anything else is transient


def test_every_key_of_a_semaphore_is_in_one_cluster_slot(client):
    sem = hotsync.Semaphore(2, "orders", client, fair=True)
    keys = [sem._main, sem._meta_key, sem._holders_key, sem._waiting_key, sem._line_key, sem._tickets_key,
            sem._holder().held, sem._wait_prefix + "h/1/x/abc/def#1"]
    assert len({key_slot(k.encode()) for k in keys}) == 1


def test_the_holders_key_expires_after_its_holders_die_and_their_tokens_are_minted_again(client, raw, prefix):
    sem = hotsync.Semaphore(2, "ttl", client, lease=0.3, auto_renew=False)
    sem.acquire()
    holders = f"{{{prefix}ttl}}:holders"
    assert 0 < raw.pttl(holders) <= 300
    time.sleep(0.45)
    assert not raw.exists(holders)  # nobody can reap the dead holder's token any more
    other = hotsync.Semaphore(2, "ttl", client)
    assert other.acquire(False) and other.acquire(False)  # a new generation of two tokens
    assert not other.acquire(False)
    with pytest.raises(hotsync.LockNotOwnedError):
        sem.release()  # its token is of the old generation: dropped, not returned
    assert raw.llen(f"{prefix}ttl") == 0
    other.release(2)
    assert raw.llen(f"{prefix}ttl") == 2


def test_repr_does_no_io(client):
    sem = hotsync.BoundedSemaphore(2, "r", client, fair=True)
    client.close()
    assert repr(sem) == "<hotsync.BoundedSemaphore key='r' initial=2 fair lease=30s held=0>"


# -- metrics ----------------------------------------------------------------------------


def test_metrics_count_outcomes_wait_hold_and_permits_in_use(client, registry):
    sem = hotsync.Semaphore(1, "m", client, lease=0.3)
    labels = {"kind": "semaphore", "name": "m"}

    def value(name, **extra):
        return registry.get_sample_value(name, {**labels, **extra}) or 0.0

    assert sem.acquire()
    assert value("hotsync_permits_in_use") == 1
    assert not sem.acquire(False)
    assert not sem.acquire(timeout=0.05)
    time.sleep(0.25)  # at least one renewal
    sem.release()
    assert value("hotsync_permits_in_use") == 0
    assert value("hotsync_acquisitions_total", outcome="acquired") == 1
    assert value("hotsync_acquisitions_total", outcome="busy") == 1
    assert value("hotsync_acquisitions_total", outcome="timeout") == 1
    assert value("hotsync_acquire_wait_seconds_count", outcome="timeout") == 1
    assert value("hotsync_acquire_wait_seconds_sum", outcome="timeout") >= 0.05
    assert value("hotsync_hold_seconds_count") == 1 and value("hotsync_hold_seconds_sum") >= 0.25
    assert value("hotsync_lease_renewals_total", outcome="ok") >= 1


def test_a_lost_permit_is_counted_and_leaves_permits_in_use(client, raw, prefix, registry):
    sem = hotsync.BoundedSemaphore(1, "ml", client, lease=0.3)
    labels = {"kind": "bounded_semaphore", "name": "ml"}
    sem.acquire()
    raw.delete(f"{{{prefix}ml}}:holders")
    assert sem.lost.wait(2)
    assert registry.get_sample_value("hotsync_leases_lost_total", {**labels, "reason": "expired"}) == 1
    assert registry.get_sample_value("hotsync_permits_in_use", labels) == 0
    with pytest.raises(hotsync.LockNotOwnedError):
        sem.release()
    assert registry.get_sample_value("hotsync_permits_in_use", labels) == 0


def test_pipelines_of_plain_commands_are_routed_by_their_first_key():
    # on a cluster a contended acquire's [ZADD, BLMOVE, ZREM] must go to the node of
    # the semaphore's keys
    from hotsync.client import _routing_key

    assert _routing_key(("ZADD", "{k}:waiting", 1, "w")) == "{k}:waiting"
    assert _routing_key(("EVALSHA", "abc123", 2, "{k}:a", "{k}:b", "arg")) == "{k}:a"
    assert _routing_key(("EVALSHA", "abc123", 0, "arg")) is None
    assert _routing_key(("BLMOVE", "{k}", "{k}:held:h", "RIGHT", "LEFT", "0.25")) == "{k}"
    assert _routing_key(("PING",)) is None


@pytest.mark.parametrize("fair", [False, True])
def test_a_key_of_another_type_raises_wrongtype_naming_it_and_stores_no_settings(client, raw, prefix, fair):
    raw.set(f"{prefix}taken", "a string")
    with pytest.raises(hotsync.WrongTypeError) as err:
        hotsync.Semaphore(2, "taken", client, fair=fair)
    assert err.value.key == f"{prefix}taken"
    assert raw.keys(f"*{prefix}taken*") == [f"{prefix}taken".encode()], "settings were written"
    # settings deleted while the key was reused: acquire and release check again
    sem = hotsync.Semaphore(2, "reused", client, fair=fair)
    assert sem.acquire()
    raw.delete(f"{{{prefix}reused}}:meta", f"{prefix}reused")
    raw.set(f"{prefix}reused", "a string")
    with pytest.raises(hotsync.WrongTypeError):
        sem.release()
    with pytest.raises(hotsync.WrongTypeError):
        sem.acquire(timeout=1)
    assert not raw.exists(f"{{{prefix}reused}}:meta"), "settings were written"
    # settings kept, key reused: a release that raises the capacity writes nothing either
    kept = hotsync.Semaphore(2, "kept", client, fair=fair)
    raw.set(f"{prefix}kept", "a string")
    before = raw.hgetall(meta(prefix, "kept"))
    with pytest.raises(hotsync.WrongTypeError):
        kept.release()
    assert raw.hgetall(meta(prefix, "kept")) == before
    assert sorted(raw.keys(f"*{prefix}kept*")) == sorted([f"{prefix}kept".encode(), meta(prefix, "kept").encode()])
