"""Run `ledger` with every sweep chunk taking at least one more second.

The fault tests need a run that is still going when the fault lands; the vectorised sweep
finishes any allowed search in about a second, so each chunk is slowed here, in the test's
own process, instead of adding a delay knob to the worker. A run executes in a child forked
from the forkserver, so the forkserver preloads this module too: importing it slows the chunks.
"""

import sys
import time
from typing import Any

from app import entry
from app.benchmarks import isolation
from app.sim import sweep

CHUNK_DELAY_S = 1.0
MODULE = "tests.benchmarks.slow_sweep_ledger"
_evaluate_chunk = sweep.eval_chunk


def _slow_eval_chunk(*args: Any, **kwargs: Any) -> Any:
    time.sleep(CHUNK_DELAY_S)
    return _evaluate_chunk(*args, **kwargs)


sweep.eval_chunk = _slow_eval_chunk
isolation.FORKSERVER_PRELOAD = (*isolation.FORKSERVER_PRELOAD, MODULE)

if __name__ == "__main__":
    sys.argv[0] = "ledger"
    sys.exit(entry.main())
