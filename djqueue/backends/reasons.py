"""Failure reasons that every backend writes in the same words."""

#: A message whose lease expired on its last attempt.
WORKER_LOST = (
    "worker lost: the lease expired while the message ran, on its last attempt "
    "(the worker was killed or hung)"
)
