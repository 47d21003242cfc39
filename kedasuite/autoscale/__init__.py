"""``kedasuite autoscale``: KEDA's and the HPA's control loop (:mod:`kedasuite.keda.model`) acted
out on this machine against the live brokers, with a backend making its replica counts real.
See ``docs/autoscale.md``."""
