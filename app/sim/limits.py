"""Size budgets of the simulator's inputs and searches, in one place.

A search is sized before it runs; one that would exceed a budget is refused with a message
naming the limit (:func:`check_budget`). At about 250,000 layouts/s on one core
(``perf/sim_bench.py``) the largest sweep or grid allowed takes a few seconds, and evaluating
``EVAL_CHUNK`` layouts at a time keeps the arrays of one call near 20 MB.
"""

from __future__ import annotations

from app.sim.errors import SpecError

# Inputs.
MAX_SPEC_FILE_BYTES = 64 * 2**20  # one file given to `ledger bench run`
MAX_BATCH_SPECS = 200_000  # specs in one batch (a list file or evaluate_many)

# Searches.
MAX_SWEEP_LAYOUTS = 500_000  # candidate layouts of one sweep or `parallelism: auto`
MAX_SWEEP_TOP = 1_000  # best layouts reported by one sweep
MAX_SWEEP_VALUES = 64  # values of one sweep list (tp, cp, pp, micro, interleave)
MAX_SWEEP_GROUPS = 100_000  # tp x cp x pp groups a sweep may try, sized before any is built
MAX_GRID_POINTS = 500_000  # layers x hidden models of one `llm-max-model` search
MAX_SERIES_POINTS = 10_000  # values of one integer series ({start, stop, step} or a list)
EVAL_CHUNK = 20_000  # layouts or models evaluated by one vectorised call (bounds memory)


def check_budget(field: str, count: int, limit: int, what: str, hint: str) -> None:
    """Raise SpecError on ``field`` when ``count`` exceeds ``limit`` (naming the limit)."""
    if count > limit:
        raise SpecError(
            field, f"{count:,} {what} exceed the limit of {limit:,} (app/sim/limits.py); {hint}"
        )
