"""Decision sources: who runs next at each scheduling point.

One module per strategy, all implementing `DecisionSource`:
`preemptive` (explicit preemptions: the shape Hypothesis draws and shrinks), `randomized`
(seeded uniform choice at every point), `replay` (exactly the threads a recorded trace ran).
"""

from harness.schedule.base import DecisionSource
from harness.schedule.preemptive import Preemption, PreemptionSchedule
from harness.schedule.randomized import RandomSchedule
from harness.schedule.replay import ReplaySchedule

__all__ = [
    "DecisionSource",
    "Preemption",
    "PreemptionSchedule",
    "RandomSchedule",
    "ReplaySchedule",
]
