"""Property-based stress tests for objects shared between threads.

Hypothesis draws operations and interleavings; the controlled runtime (`harness.runtime`)
executes them on real threads, one at a time, switching only at the drawn decisions
(`harness.schedule`), and records what happened (`harness.trace`).
"""

__version__ = "0.1.0"
