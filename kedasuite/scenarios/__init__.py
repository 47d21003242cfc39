"""The pitfall lab: ``kedasuite scenario NAME`` reproduces a known KEDA surprise beside its fix.

By role: :mod:`.base` (what a scenario and a run are), :mod:`.manifests` (variants derived from
the bundled render), one module per scenario and :mod:`.catalogue` (the list), :mod:`.runner`
(one loop for both ways of running, and the model-only run), :mod:`.sim` and :mod:`.sim_more`
(simulated workers), :mod:`.live` (real brokers and processes), :mod:`.render` (the verdict
table, CSV and PNG) and :mod:`.command` (the CLI). See ``docs/scenarios.md``.
"""
