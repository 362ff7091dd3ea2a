"""Read the seed files the simulator consults, once, when this module is imported.

The run forkserver preloads it (app/benchmarks/isolation.py), so every run's child is forked
with the claims, the scenarios and the hardware library already parsed. Each child parsed
them again before: about 0.2 s of CPU per run, taken from readers on a busy machine.
"""

from app.sim import claimed, hardware, scenarios

claimed.claim_figures()
hardware.library()
scenarios.list_scenarios()
