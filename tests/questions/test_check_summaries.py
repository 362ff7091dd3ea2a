"""The text a simulation run's check carries is written as a reader writes numbers."""

from app.benchmarks.evidence import _summary
from app.benchmarks.models import BenchmarkRun


def test_a_check_summary_rounds_float_noise() -> None:
    comparison = {
        "claimed": 22.6,
        "simulated": 22.656000000000002,
        "unit": "TFLOPS",
        "verdict": "consistent",
    }
    text = _summary(BenchmarkRun(), comparison)
    assert "22.656000000000002" not in text
    assert text.startswith("Claimed 22.6 vs simulated 22.656 TFLOPS: consistent")
    whole = _summary(BenchmarkRun(), {**comparison, "claimed": 362.0, "simulated": 1087000.0})
    assert whole.startswith("Claimed 362 vs simulated 1,087,000 TFLOPS")


def test_a_bound_is_said_as_a_bound_not_as_a_matching_figure() -> None:
    """'Claimed 15 vs simulated 10 kW: consistent' read as if 10 kW matched 15 kW."""
    floor = {
        "claimed": 15,
        "simulated": 10,
        "unit": "kW",
        "relation": "<=",
        "verdict": "consistent",
    }
    text = _summary(BenchmarkRun(), floor)
    assert text.startswith("Claimed 15 kW vs a simulated lower bound of 10 kW: consistent")
    ceiling = _summary(BenchmarkRun(), {**floor, "relation": ">=", "claimed": 2, "simulated": 2})
    assert ceiling.startswith("Claimed 2 kW vs a simulated upper bound of 2 kW")
