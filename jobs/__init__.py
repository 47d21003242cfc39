"""Kubernetes Job workloads: the lease-based Redis work queue (a later issue)."""
