"""Workers: the processes KEDA scales. Each takes user records off its broker, does the
simulated work and records the result in Redis (see :mod:`kedasuite.core.results`)."""
