"""What the server reports about itself: Prometheus metrics (``metrics``, also the
engine's ``Telemetry``) and structured logs with request ids (``logs``)."""
