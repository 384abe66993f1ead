"""Hard time limits from any thread, from an asyncio loop and inside daemon processes."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rewardkit.types import Status
from rewardkit.verifiers.math import MathConfig, WorkerPool, check_batch, verify, verify_batch

SLOW = ("1", r"(1+\frac{1}{x})^{9999}")  # sympy grinds on this for many seconds
FAST_SYMBOLIC = ("x^2+2x+1", "(x+1)^2")
CFG = MathConfig(timeout_s=1.5)  # SLOW needs many seconds; FAST needs ~0.1 s, with slack for a loaded CI machine
FAST_CFG = MathConfig(timeout_s=10)  # contract checks, not latency


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(size=2)
    p.warm()
    yield p
    p.close()


@pytest.mark.timeout(60)
def test_slow_check_times_out_and_the_worker_is_replaced(pool: WorkerPool) -> None:
    before = pool.stats["restarts"]
    v = verify(*SLOW, CFG, pool=pool)
    assert v.status is Status.TIMEOUT and v.score is None
    assert v.to_result().status is Status.TIMEOUT
    assert pool.stats["restarts"] == before + 1
    assert verify(*FAST_SYMBOLIC, CFG, pool=pool).equal is True  # the pool still works


@pytest.mark.timeout(60)
def test_timeouts_from_threads(pool: WorkerPool) -> None:
    results: dict[int, object] = {}

    def work(i: int) -> None:
        pair = SLOW if i % 2 else FAST_SYMBOLIC
        results[i] = verify(*pair, CFG, pool=pool)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, v in results.items():
        assert v.status is (Status.TIMEOUT if i % 2 else Status.OK), (i, v)  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
def test_timeouts_from_an_asyncio_loop(pool: WorkerPool) -> None:
    async def main() -> list[object]:
        direct = verify(*SLOW, CFG, pool=pool)  # blocking call inside the loop: still no signals
        threaded = await asyncio.gather(
            asyncio.to_thread(verify, *SLOW, CFG, pool=pool),
            asyncio.to_thread(verify, *FAST_SYMBOLIC, CFG, pool=pool),
        )
        return [direct, *threaded]

    direct, slow, fast = asyncio.run(main())
    assert direct.status is Status.TIMEOUT  # type: ignore[attr-defined]
    assert slow.status is Status.TIMEOUT  # type: ignore[attr-defined]
    assert fast.equal is True  # type: ignore[attr-defined]


def test_batch_is_in_order_and_parallel(pool: WorkerPool) -> None:
    golds = ["1/2", "x^2+2x+1", "3", "x", SLOW[0], "0.5"]
    preds = ["0.5", "(x+1)^2", "4", "y", SLOW[1], r"\frac{1}{2}"]
    out = verify_batch(golds, preds, CFG, pool=pool)
    assert [v.status for v in out] == [Status.OK] * 4 + [Status.TIMEOUT, Status.OK]
    assert [v.equal for v in out] == [True, True, False, False, None, True]
    # same verdicts whatever the order of the pairs
    rev = verify_batch(golds[::-1], preds[::-1], CFG, pool=pool)
    assert [v.equal for v in rev] == [v.equal for v in out][::-1]


def test_check_batch_extracts(pool: WorkerPool) -> None:
    out = check_batch(["2", "x+1"], [r"so \boxed{2}", "I cannot tell"], pool=pool)
    assert out[0].equal is True and out[0].info["extracted_from"] == "boxed"
    assert out[1].status is Status.UNPARSEABLE


def test_inline_fallback_has_the_same_contract() -> None:
    p = WorkerPool(size=1)
    p._inline = True  # what happens when no subprocess can be started
    assert verify(*FAST_SYMBOLIC, FAST_CFG, pool=p).equal is True  # cold imports in this thread: give time
    # a check that needs ~1 s of sympy, with a 20 ms limit (the abandoned thread ends soon after)
    v = verify("0", r"\sin(x)^{9999} - \cos(x)^{9999}", MathConfig(timeout_s=0.02), pool=p)
    assert v.status is Status.TIMEOUT


def _daemon_target(q: mp.Queue) -> None:  # type: ignore[type-arg]
    from rewardkit.verifiers.math import verify as v

    a = v(*FAST_SYMBOLIC, MathConfig(timeout_s=5))
    b = v(*SLOW, MathConfig(timeout_s=0.5))
    q.put((mp.current_process().daemon, a.status.value, a.equal, b.status.value))


@pytest.mark.timeout(120)
def test_works_inside_a_daemon_process() -> None:
    """The scoring engine's pool workers are daemons: they may not have multiprocessing children."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_daemon_target, args=(q,), daemon=True)
    proc.start()
    daemon, status, equal, slow_status = q.get(timeout=100)
    proc.join(30)
    assert daemon is True
    assert (status, equal, slow_status) == ("ok", True, "timeout")


@pytest.mark.timeout(120)
def test_works_inside_process_pool_executor_workers() -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as ex:
        v = ex.submit(verify, *FAST_SYMBOLIC).result(timeout=100)
    assert v.equal is True


def test_thread_pool_hammering(pool: WorkerPool) -> None:
    pairs = [("x+1", "1+x"), ("2x", "x+x"), ("x^2", "x*x"), ("x", "x+1")] * 5
    with ThreadPoolExecutor(8) as ex:
        out = list(ex.map(lambda gp: verify(*gp, pool=pool), pairs))
    assert [v.equal for v in out] == [True, True, True, False] * 5
