"""Prometheus metrics of one App instance, in a registry of its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(slots=True)
class Metrics:
    """Prometheus metrics in a registry owned by one app (not the global one)."""

    registry: CollectorRegistry
    received: Counter
    rejected: Counter
    duplicates: Counter
    replayed: Counter
    resumed: Counter
    failed: Counter
    failures: Counter
    retried: Counter
    takeovers: Counter
    redeliveries: Counter
    queue_depth: Gauge
    processing: Histogram
    in_flight: Gauge
    # Children by event name: `labels()` takes a lock and builds a key per call.
    _received: dict[str, Counter] = field(default_factory=dict)
    _processing: dict[str, Histogram] = field(default_factory=dict)

    def received_for(self, event: str) -> Counter:
        """Return the received counter of `event`."""
        child = self._received.get(event)
        if child is None:
            child = self._received[event] = self.received.labels(event)
        return child

    def processing_for(self, event: str) -> Histogram:
        """Return the processing-time histogram of `event`."""
        child = self._processing.get(event)
        if child is None:
            child = self._processing[event] = self.processing.labels(event)
        return child

    @classmethod
    def create(cls) -> Metrics:
        """Register the App's metrics in a fresh registry."""
        r = CollectorRegistry(auto_describe=True)
        return cls(
            registry=r,
            received=Counter(
                "musl_check_deliveries_received",
                "Verified webhook deliveries accepted, by event.",
                ["event"],
                registry=r,
            ),
            rejected=Counter(
                "musl_check_deliveries_rejected",
                "Webhook requests refused, by reason.",
                ["reason"],
                registry=r,
            ),
            duplicates=Counter(
                "musl_check_deliveries_duplicate",
                "Deliveries whose id was already recorded (redeliveries).",
                registry=r,
            ),
            replayed=Counter(
                "musl_check_deliveries_replayed",
                "Signed bodies posted again under a new delivery id (not processed).",
                registry=r,
            ),
            resumed=Counter(
                "musl_check_deliveries_resumed",
                "Deliveries taken again: after a restart, from a consumer that"
                " died (takeover) or after a transient failure.",
                registry=r,
            ),
            failed=Counter(
                "musl_check_deliveries_failed",
                "Deliveries whose processing raised or timed out, by event.",
                ["event"],
                registry=r,
            ),
            failures=Counter(
                "musl_check_delivery_failures",
                "Failed attempts at a delivery (and store outages), by reason.",
                ["reason"],
                registry=r,
            ),
            retried=Counter(
                "musl_check_deliveries_retried",
                "Deliveries sent back on the queue after a transient failure.",
                registry=r,
            ),
            takeovers=Counter(
                "musl_check_deliveries_taken_over",
                "Deliveries taken from a consumer whose lease ran out (it died).",
                registry=r,
            ),
            redeliveries=Counter(
                "musl_check_redeliveries_requested",
                "Failed deliveries GitHub was asked to deliver again.",
                registry=r,
            ),
            queue_depth=Gauge(
                "musl_check_queue_depth",
                "Unfinished deliveries in the store (read at each scrape).",
                registry=r,
            ),
            processing=Histogram(
                "musl_check_delivery_processing_seconds",
                "Time spent processing one delivery in the background.",
                ["event"],
                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
                registry=r,
            ),
            in_flight=Gauge(
                "musl_check_deliveries_in_flight",
                "Deliveries being processed now.",
                registry=r,
            ),
        )
