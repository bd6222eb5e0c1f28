"""The server process: the composition root that builds everything from ``Settings``
(``compose``), process-wide runtime set-up (``runtime``), the gRPC server's life cycle
(``process``), per-model health (``health``) and TLS credentials (``tls``)."""
