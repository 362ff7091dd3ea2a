"""Errors raised by the simulator."""

from __future__ import annotations


class SpecError(ValueError):
    """A workload or hardware spec is invalid or infeasible; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """Return the error as a JSON-ready mapping."""
        return {"error": f"{self.field}: {self.message}", "field": self.field}
