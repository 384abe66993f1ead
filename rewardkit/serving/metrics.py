"""Prometheus metrics of the reward server (``GET /metrics``, text exposition format).

Every app gets its own `CollectorRegistry`, so several apps (tests, one process serving two
pipelines) never clash. Metric names, documented once here:

========================================  =========  ==================================================
name                                      type       labels / meaning
========================================  =========  ==================================================
``rewardkit_requests_total``              counter    ``endpoint``, ``code``: HTTP requests answered
``rewardkit_request_latency_seconds``     histogram  ``endpoint``: time from request start to response
``rewardkit_items_total``                 counter    ``status``: scored items by result status (before any fill)
``rewardkit_batch_size``                  histogram  items per micro-batch sent to the reward source
``rewardkit_batch_latency_seconds``       histogram  time the reward source took for one micro-batch
``rewardkit_queue_items``                 gauge      items admitted and not yet answered
``rewardkit_inflight_batches``            gauge      micro-batches being scored right now
``rewardkit_rejected_total``              counter    ``reason`` (queue_full, too_large, auth, invalid)
``rewardkit_worker_restarts_total``       counter    process pools replaced after a timeout or a crash
========================================  =========  ==================================================
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["ServerMetrics", "CONTENT_TYPE_LATEST"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    """The server's metric objects, registered in a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("rewardkit_requests", "HTTP requests answered", ["endpoint", "code"], registry=r)
        self.latency = Histogram("rewardkit_request_latency_seconds", "Request latency", ["endpoint"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.items = Counter("rewardkit_items", "Scored items by result status", ["status"], registry=r)
        self.batch_size = Histogram("rewardkit_batch_size", "Items per micro-batch", buckets=_BATCH_BUCKETS,
                                    registry=r)
        self.batch_latency = Histogram("rewardkit_batch_latency_seconds", "Reward source time per micro-batch",
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_items = Gauge("rewardkit_queue_items", "Items admitted and not yet answered", registry=r)
        self.inflight_batches = Gauge("rewardkit_inflight_batches", "Micro-batches being scored", registry=r)
        self.rejected = Counter("rewardkit_rejected", "Rejected requests", ["reason"], registry=r)
        self.worker_restarts = Counter("rewardkit_worker_restarts", "Process pools replaced", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
