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
