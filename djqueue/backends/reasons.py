"""Failure reasons that every backend writes in the same words."""

#: A message whose lease expired on its last attempt.
WORKER_LOST = (
    "worker lost: the lease expired while the message ran, on its last attempt "
    "(the worker was killed or hung)"
)

#: The error of an attempt whose lease expired, when the message runs again.
LEASE_EXPIRED = (
    "worker lost: the lease expired while the message ran (the worker was "
    "killed or hung); the message runs again"
)
