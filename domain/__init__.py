"""Backlynk's domain: aggregates, their events, plans and the rules of evidence.

Nothing in this package performs I/O; `domain.services` holds the application services,
written against the small ports in `domain.ports`.
"""
