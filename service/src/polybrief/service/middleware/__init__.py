"""Server interceptors around the gRPC adapter: API keys and quotas (``auth``), request
ids, access logs and request metrics (``observe``)."""
