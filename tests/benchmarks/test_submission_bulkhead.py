"""A burst of run submissions waiting on a token's quota lock leaves readers their threads.

Each submission of a token takes the token's quota lock (so a burst cannot pass its quota
together). With the lock held elsewhere, 50 concurrent submissions wait. Without a bulkhead
each waits in a thread of the shared pool (40 per process) holding a database connection, and
a reader that arrives then gets neither: it hangs until the lock is released.
"""

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import Session

from app.benchmarks.service import lock_token_quota
from app.core.bounds import token_actor
from app.core.db import make_engine
from tests.ops.helpers import live_app

BURST = 50  # more than AnyIO's 40 threads per process


@pytest.mark.slow
def test_readers_are_served_while_a_burst_waits_on_the_quota_lock(
    db_url: str, write_token: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one write lock for every writer; the quota lock is PostgreSQL's")
    env = {**os.environ, "LEDGER_DATABASE_URL": db_url, "LEDGER_LOG_LEVEL": "WARNING",
           "LEDGER_INPROCESS_WORKER": "false"}  # fmt: skip
    engine = make_engine(db_url)
    with live_app(env, "/api/v1/capabilities", timeout=120) as base:
        holder = Session(engine)
        lock_token_quota(holder, token_actor("tester"))  # held until the rollback below

        async def scenario() -> tuple[int, list[int]]:
            headers = {"Authorization": f"Bearer {write_token}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
                submissions = [
                    asyncio.create_task(
                        client.post("/api/v1/benchmark-runs", json={"scenario_id": "dip-hbm-gemm"})
                    )
                    for _ in range(BURST)
                ]
                await asyncio.sleep(2)  # every submission has arrived and waits on the lock
                try:
                    async with httpx.AsyncClient(base_url=base, timeout=10) as reader:
                        read = (await reader.get("/api/v1/capabilities")).status_code
                except httpx.TimeoutException:
                    read = 0  # no thread or no connection was left for the reader
                finally:
                    holder.rollback()  # release the lock: the burst goes through
                    holder.close()
                answers = await asyncio.gather(*submissions)
                return read, [answer.status_code for answer in answers]

        # A thread of its own: the test runner's thread may already run an event loop.
        with ThreadPoolExecutor(max_workers=1) as pool:
            read, statuses = pool.submit(asyncio.run, scenario()).result()
    engine.dispose()
    assert read == 200, "the reader was not served while the burst waited"
    assert set(statuses) <= {202, 429} and 202 in statuses, statuses
