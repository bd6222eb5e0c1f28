"""polybrief server: a grpc-free engine and text pipeline behind a thin gRPC adapter.

Layers, bottom up: ``text`` (cleaning, splitting, detection, extractive summaries),
``models`` (catalogue, loading and the per-family language logic), ``engine`` (routing,
summarise/translate orchestration over plain dataclasses) and ``api`` (the gRPC
servicer, error table and server). Only ``api`` imports grpc.
"""
