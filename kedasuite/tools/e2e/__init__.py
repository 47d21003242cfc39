"""The end-to-end test on a real cluster: what to expect from KEDA, and whether it happened.

``scripts/e2e`` sets up a kind cluster with KEDA and the suite, then runs
``kedasuite e2e run``. For each workload that does, as KEDA's own e2e tests do, four
things and checks each:

1. **idle**: nothing to do, so the workload stays at 0 replicas (0 running Jobs);
2. **below activation**: a load of at most the activation threshold keeps it at 0, since
   KEDA activates only when a metric is *strictly* above it;
3. **scale-out**: a burst scales it out to the count the KEDA/HPA formulas predict,
   within a deadline derived from ``pollingInterval`` and the HPA's scale-up rate;
4. **scale-in**: once the backlog is drained it returns to 0 within ``cooldownPeriod``
   plus one polling interval plus a margin (a ScaledJob: every Job completes, none fails),
   and every item pumped was processed.

It is built on the suite's shared model rather than a copy of it, one module per concern:

* :mod:`.plan`: the expectations, pure: the live objects parsed by
  :class:`kedasuite.keda.rules.spec.Scaler` and counts from :func:`kedasuite.keda.rules.scaling.decide`
  (what ``kedasuite status`` uses), workloads from :mod:`kedasuite.core.workloads`;
* :mod:`.probe`: readings through the pump's ``/status`` and the Kubernetes API, load
  through the pump's ``/pump``: no command output is parsed;
* :mod:`.driver`: the phases, writing readings and marks to the timeline CSV, the format
  of :mod:`kedasuite.tools.timeline.records` (so ``kedasuite timeline --render-only`` draws it);
* :mod:`.verdicts`: pure checks over a saved timeline (``kedasuite e2e check`` re-judges one);
* :mod:`.command`: ``kedasuite e2e run | check | plan``.

This package imports nothing from its submodules, so importing one never pulls in the CLI.
"""
