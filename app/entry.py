"""The `ledger` console script; `ledger bench ...` starts without the web and database stack."""

import gc
import sys


def main() -> None:
    """Run `ledger`: the simulator's commands skip importing the rest of the application."""
    if sys.argv[1:2] == ["bench"]:
        # A short-lived command: the cyclic collector's repeated scans of the many objects a
        # batch reads, builds and prints cost far more than the little garbage it would free.
        gc.disable()
        from app.benchmarks.cli import bench_app

        bench_app(args=sys.argv[2:], prog_name="ledger bench")
        return
    from app.cli import main as ledger_main

    ledger_main()
