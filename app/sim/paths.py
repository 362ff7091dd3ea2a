"""Where the simulator finds its data files."""

from __future__ import annotations

import os
from pathlib import Path


def seed_dir() -> Path:
    """Return the seed_data directory (overridable with LEDGER_SEED_DIR)."""
    env = os.environ.get("LEDGER_SEED_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "seed_data"


def calibration_csv() -> Path:
    """Return the calibration CSV path (overridable with LEDGER_CALIBRATION_CSV)."""
    env = os.environ.get("LEDGER_CALIBRATION_CSV")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    # The CSV ships in shared/reference/calibration beside the repo; a copy in the repo wins.
    for cand in (
        here.parents[2] / "reference" / "calibration" / "a100-megatron.csv",
        here.parents[3] / "shared" / "reference" / "calibration" / "a100-megatron.csv",
        here.parents[2] / "app" / "sim" / "data" / "a100-megatron.csv",
    ):
        if cand.exists():
            return cand
    return here.parent / "data" / "a100-megatron.csv"
