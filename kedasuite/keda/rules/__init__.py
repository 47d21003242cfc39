"""KEDA's and the HPA's rules as pure functions, each named after the upstream function it mirrors
and citing its file: the HPA's (:mod:`.hpa`: proposals, tolerance, stabilization, rate limits,
scale events, one sync), the objects as a manifest gives them (:mod:`.spec`), activation
(:mod:`.activation`), the ScaledObject's decision (:mod:`.scaling`), a ScaledJob's Jobs
(:mod:`.scaledjob`), KEDA's poll for a ScaledObject (:mod:`.executor`), the
kafka scaler's metadata and lag (:mod:`.kafka`), the redis scaler's metadata (:mod:`.redis`), how
KEDA reads a trigger's metadata at all (:mod:`.scalersconfig`), ``fallback`` (:mod:`.fallback`)
and ``scalingModifiers`` (:mod:`.modifiers`). No clock, no I/O, no broker client: the model
(:mod:`kedasuite.keda.model`), ``status`` and the lint stand on them.
"""
