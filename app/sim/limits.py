"""Size budgets of the simulator's inputs and searches, in one place.

A search is sized before it runs; one that would exceed a budget is refused with a message
naming the limit (:func:`check_budget`). The rates and bytes per evaluation are measured on one
core by ``perf/sim_bench.py`` and only turn a count into the seconds and megabytes quoted.
"""

from __future__ import annotations

from app.sim.errors import SpecError

# Inputs.
MAX_SPEC_FILE_BYTES = 64 * 2**20  # one file given to `ledger bench run`
MAX_BATCH_SPECS = 200_000  # specs in one batch (a list file or evaluate_many)
MAX_NESTING = 64  # mapping/list depth of one spec file

# Searches.
MAX_SWEEP_LAYOUTS = 500_000  # candidate layouts of one sweep or `parallelism: auto`
MAX_SWEEP_TOP = 1_000  # best layouts reported by one sweep
MAX_GRID_POINTS = 500_000  # layers x hidden models of one `llm-max-model` search
MAX_SERIES_POINTS = 10_000  # values of one integer series ({start, stop, step} or a list)
EVAL_CHUNK = 20_000  # layouts or models evaluated by one vectorised call (bounds memory)

# Rough single-core costs, for the messages only.
LAYOUTS_PER_S = 250_000.0
BYTES_PER_LAYOUT = 2_000.0


def check_budget(field: str, count: int, limit: int, what: str, hint: str) -> None:
    """Raise SpecError on ``field`` when ``count`` exceeds ``limit`` (naming the limit)."""
    if count <= limit:
        return
    seconds = count / LAYOUTS_PER_S
    raise SpecError(
        field,
        f"{count:,} {what} exceed the limit of {limit:,} (app/sim/limits.py; about "
        f"{seconds:,.0f} s of one core); {hint}",
    )
