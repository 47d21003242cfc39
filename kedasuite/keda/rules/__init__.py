"""KEDA's and the HPA's rules as pure functions, each named after the upstream function it mirrors
and citing its file: the HPA's (:mod:`.hpa`), KEDA's activation, ScaledObject and ScaledJob
decisions and the manifests' fields (:mod:`.scaling`), the kafka scaler's lag (:mod:`.kafka`).
No clock, no I/O, no broker client: the model (:mod:`kedasuite.keda.model`), ``status`` and the
lint stand on them.
"""
