"""Decision sources: who runs next at each scheduling point.

One module per strategy, all implementing `DecisionSource`:
`preemptive` (explicit preemptions: how a counterexample is written down), `drawn`
(per-thread preemptions Hypothesis draws and shrinks), `randomized`
(seeded uniform choice at every point), `replay` (exactly the threads a recorded trace ran).
"""

from harness.schedule.base import DecisionSource
from harness.schedule.drawn import DrawnSchedule, ThreadPreemption
from harness.schedule.preemptive import PreemptionSchedule, StepPreemption
from harness.schedule.randomized import RandomSchedule
from harness.schedule.replay import ReplaySchedule

__all__ = [
    "DecisionSource",
    "DrawnSchedule",
    "PreemptionSchedule",
    "RandomSchedule",
    "ReplaySchedule",
    "StepPreemption",
    "ThreadPreemption",
]
