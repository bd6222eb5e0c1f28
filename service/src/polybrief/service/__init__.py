"""polybrief server: a grpc-free engine and text pipeline behind a thin gRPC adapter.

Layers, bottom up: ``text`` (cleaning, splitting, detection, extractive summaries),
``models`` (catalogue, loading and the per-family language logic), ``engine`` (routing,
summarise/translate orchestration over plain dataclasses; with ``batching``, ``cache``,
``inference``, ``routing``), ``api`` (the gRPC adapter: servicer, conversion, the error
table), ``middleware`` (interceptors), ``observability`` (metrics, logs) and ``server``
(the composition root and the process). ``settings`` holds every default; ``cli`` is the
``polybrief-server`` command. Nothing below ``api`` imports grpc.
"""
