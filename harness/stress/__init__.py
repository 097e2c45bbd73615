"""The stress engine (``--engine stress``): free-running threads, deterministic reproduction.

Modules, by question: how is a round run without a scheduler? `runner`. How does the model's
own code stay atomic while the code under test runs in parallel? `gate`. How does a stress
failure become a replayable counterexample? `reproduce`. The hunt itself: `engine`.
"""
