"""Pickled hotsync objects travel as handles: same key, same settings, same server, nothing held.

What a worker started with multiprocessing's "spawn" method (or a ProcessPoolExecutor
task) receives; see hotsync/_pickling.py.
"""

from __future__ import annotations

import copy
import pickle

import pytest
import redis
from redis.sentinel import Sentinel, SentinelConnectionPool

import hotsync
from hotsync.codecs import get_codec

from . import _workers
from ._helpers import join_all, start

pytestmark = pytest.mark.timeout(60)


def _roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


class UpperCodec:
    """A custom codec (module level, so pickle finds it by name)."""

    def dumps(self, value):
        return str(value).upper().encode()

    def loads(self, data):
        return data.decode()


# each case: make the original; then a check that the copy acts on the original's state
def _lock(kind):
    def case(c):
        lock = getattr(hotsync, kind)("lk", c, lease=7.5, fair=True, auto_renew=False)
        assert lock.acquire(blocking=False)
        # an RLock's owner is the process and thread, so a copy in this thread may re-enter
        return lock, lambda copy: (copy.locked() and (kind == "RLock" or not copy.acquire(blocking=False))
                                   and (copy.lease, copy.fair, copy.auto_renew) == (7.5, True, False))
    return case


def _semaphore(kind):
    def case(c):
        sem = getattr(hotsync, kind)(2, "sem", c, lease=5.0)
        assert sem.acquire(blocking=False)
        return sem, lambda copy: (copy.statistics().in_use == 1 and copy.statistics().held == 0
                                  and copy.initial_value == 2 and copy.lease == 5.0)
    return case


def _ratelimiter(c):
    limiter = hotsync.RateLimiter(2, per=60.0, burst=1, key="rl", client=c)
    assert limiter.try_acquire()
    return limiter, lambda copy: not copy.try_acquire() and (copy.rate, copy.per, copy.burst) == (2, 60.0, 1)


def _queue(kind):
    def case(c):
        q = getattr(hotsync, kind)(5, "q", c, lease=3.0, max_attempts=4)
        q.put((1, "a") if kind == "PriorityQueue" else "a")
        want = (1, "a") if kind == "PriorityQueue" else "a"
        return q, lambda copy: (copy.maxsize, copy.lease, copy.max_attempts) == (5, 3.0, 4) and copy.get_nowait() == want
    return case


def _collection(kind, initial, expect=None):
    def case(c):
        obj = getattr(hotsync, kind)(initial, "col", c)
        return obj, lambda copy: copy.value == (initial if expect is None else expect)
    return case


def _defaultdict(c):
    d = hotsync.DefaultDict(list, {"a": [1]}, "dd", c)
    return d, lambda copy: copy.default_factory is list and copy["b"] == [] and d["a"] == [1]


CASES = {
    "Lock": _lock("Lock"),
    "RLock": _lock("RLock"),
    "Semaphore": _semaphore("Semaphore"),
    "BoundedSemaphore": _semaphore("BoundedSemaphore"),
    "RateLimiter": _ratelimiter,
    "Queue": _queue("Queue"),
    "LifoQueue": _queue("LifoQueue"),
    "PriorityQueue": _queue("PriorityQueue"),
    "SetQueue": _queue("SetQueue"),
    "LifoSetQueue": _queue("LifoSetQueue"),
    "List": _collection("List", [1, "two", None]),
    "Dict": _collection("Dict", {"a": 1}),
    "DefaultDict": _defaultdict,
    "Set": _collection("Set", {1, 2}),
    "Counter": _collection("Counter", {"x": 3}),
    "String": _collection("String", "hello"),
    "ImmutableString": _collection("ImmutableString", "frozen"),
    "Int": _collection("Int", 42),
    "Float": _collection("Float", 2.5),
}


def test_every_public_type_is_covered():
    # the public classes that pickle as a handle (their own __reduce__), less aliases
    handles = {name for name in hotsync.__all__ if isinstance(getattr(hotsync, name), type)
               and getattr(getattr(hotsync, name).__reduce__, "__module__", "").startswith("hotsync")
               and getattr(hotsync, name).__name__ == name}
    assert handles - {"HotClient", "Message"} == set(CASES)  # a Message refuses (see below)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_pickled_object_is_a_handle_on_the_same_key(client, kind):
    obj, acts_on_the_same_state = CASES[kind](client)
    copy_ = _roundtrip(obj)
    assert type(copy_) is type(obj)
    assert copy_.key == obj.key
    assert copy_ is not obj and copy_._client is not client  # a client made from the recipe
    assert copy_._client.key_prefix == client.key_prefix
    assert acts_on_the_same_state(copy_)


def test_unpickling_a_collection_writes_nothing(client, raw):
    lst = hotsync.List([1, 2], "l", client)
    data = pickle.dumps(lst)
    lst.value = [3]
    assert _roundtrip(lst).value == [3] and pickle.loads(data).value == [3]


def test_a_held_lock_travels_without_its_hold(client):
    lock = hotsync.Lock("held", client)
    assert lock.acquire(blocking=False)
    for other in (_roundtrip(lock), copy.copy(lock)):
        assert other.locked() and not other.owned()
        with pytest.raises(RuntimeError):
            other.release()
    assert lock.owned()
    lock.release()


def test_a_reserved_message_stays_with_the_sender(client):
    q = hotsync.Queue(key="rq", client=client, lease=5)
    q.put("job")
    msg = q.reserve(timeout=2)
    other = _roundtrip(q)
    assert other.qsize() == 0 and other.unfinished_tasks() == 1
    msg.ack()
    assert other.unfinished_tasks() == 0


def test_a_reserved_message_refuses_to_be_pickled_and_says_why(client):
    q = hotsync.Queue(key="pmsg", client=client, lease=5)
    q.put("job")
    msg = q.reserve(timeout=2)
    with pytest.raises(TypeError, match="pass msg.value to the worker"):
        pickle.dumps(msg)
    assert msg.ack()


def test_copies_arriving_separately_share_one_client(client):
    a = pickle.loads(pickle.dumps(hotsync.List(key="a", client=client)))
    b = pickle.loads(pickle.dumps(hotsync.Lock("b", client)))
    assert a._client is b._client


def test_a_client_carries_its_settings(redis_url, prefix):
    pool = redis.BlockingConnectionPool.from_url(redis_url, max_connections=7, timeout=3)
    c = hotsync.HotClient(client=redis.Redis(connection_pool=pool), key_prefix=prefix, codec="str",
                          retry=hotsync.RetryPolicy(budget=2.5), metrics=False)
    other = _roundtrip(c)
    p = other.redis.connection_pool
    assert type(p) is redis.BlockingConnectionPool and (p.max_connections, p.timeout) == (7, 3)
    assert p.connection_kwargs["port"] == pool.connection_kwargs["port"]
    assert other.key_prefix == prefix and other.codec is get_codec("str")
    assert other.retry.budget == 2.5 and other.metrics.enabled is False
    assert other.ping()


def test_codecs_travel_by_name_and_custom_ones_by_reference(client):
    assert _roundtrip(get_codec("json")) is get_codec("json")
    q = hotsync.Queue(key="cq", client=client, codec=UpperCodec())
    q.put("shout")
    other = _roundtrip(q)
    assert isinstance(other._codec, UpperCodec) and other.get_nowait() == "SHOUT"


def test_a_client_that_cannot_be_rebuilt_elsewhere_says_why(client):
    pool = SentinelConnectionPool("mymaster", Sentinel([("127.0.0.1", 1)]))
    c = hotsync.HotClient(client=redis.Redis(connection_pool=pool), metrics=False)
    with pytest.raises(TypeError, match="SentinelConnectionPool"):
        pickle.dumps(hotsync.Lock("x", c))


def test_spawned_workers_use_objects_passed_as_arguments(client, monkeypatch):
    # the workers' environment points nowhere: what they reach, they reach through
    # the pickled clients
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("HOTSYNC_REDIS_URL", "redis://127.0.0.1:1/0")
    lock = hotsync.Lock("spawn-lock", client, lease=10)
    n = hotsync.Int(0, "spawn-n", client)
    seen = hotsync.List([], "spawn-seen", client)
    q = hotsync.Queue(key="spawn-q", client=client)
    workers, rounds = 3, 25
    procs = [start(_workers.handle_worker, lock, n, seen, q, rounds) for _ in range(workers)]
    join_all(procs, timeout=40)
    assert n.value == workers * rounds  # the lock held: no lost update of the non-atomic increment
    assert len(set(seen.value)) == workers
    assert q.qsize() == workers * rounds
