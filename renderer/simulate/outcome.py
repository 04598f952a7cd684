"""What one simulated delivery ended with."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Outcome:
    delivery: str
    converged: bool
    seconds: float
    problems: list[str]
    log: list[str] = field(default_factory=list)
    blocking: tuple[str, str, str] | None = None
    """When stuck: (file in the tree, object, reason) of the first object that blocks it."""

    def summary(self) -> str:
        if self.converged:
            return f"{self.delivery}: every tigerastatus Available after {self.seconds / 60:.0f} min (simulated)"
        return f"{self.delivery}: does not converge: " + "; ".join(self.problems[:4])
