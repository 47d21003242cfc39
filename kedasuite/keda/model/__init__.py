"""The model of KEDA's and the HPA's control loop over time, built on :mod:`kedasuite.keda.rules`:
the loops (:mod:`.loop`), one HPA's memory between syncs (:mod:`.hpa`), the triggers' reads
with KEDA's caching and fallback (:mod:`.triggers`), and the replay of metric series
(:mod:`.replay`). ``simulate``, ``autoscale`` and the scenarios drive it.
"""

from kedasuite.keda.model.loop import *  # noqa: F403 - the loop's names are the model's
from kedasuite.keda.model.loop import __all__  # noqa: F401
