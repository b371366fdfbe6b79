//! `tessera bench deliveries`: throughput and latency of the delivery engine.
