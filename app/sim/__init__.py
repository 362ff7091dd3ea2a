"""Pure performance model of AI hardware (Dojo, FSD HW3, A100/H100 baselines).

Imports nothing from the rest of ``app``; the web layer and the CLI drive it through
:mod:`app.sim.api`.
"""
