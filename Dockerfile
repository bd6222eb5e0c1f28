# polybrief server image.
#
#   docker build -t polybrief .
#   docker run -p 50051:50051 -v $HOME/.cache/huggingface:/models polybrief
#
# Models are NOT baked in: mount a Hugging Face cache filled by `polybrief-server models
# pull` (or run the image once with --allow-download). Without models the server still
# serves extractive briefs and reports which translation models are missing.
#
# Versions come from requirements.lock (as constraints: only the runtime dependencies are
# installed). torch is pinned to 2.13.0; on PyPI that version's Linux wheel bundles CUDA:
# pass the CPU wheel index of your mirror as TORCH_INDEX_URL to get the small CPU build.
FROM python:3.11-slim AS wheels
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /src/requirements.lock
RUN grep -E '^(hatchling|editables|grpcio-tools|mypy-protobuf|protobuf|grpcio|types-protobuf|pathspec|pluggy|packaging|trove-classifiers|setuptools)==' \
      /src/requirements.lock > /src/build-tools.txt \
    && pip install -r /src/build-tools.txt
COPY proto /src/proto
COPY client /src/client
COPY service /src/service
RUN pip wheel --no-deps --no-build-isolation -w /wheels /src/proto /src/client /src/service

FROM python:3.11-slim AS build
ARG TORCH_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/polybrief
ENV PATH=/opt/polybrief/bin:$PATH
RUN if [ -n "$TORCH_INDEX_URL" ]; then \
      pip install torch==2.13.0 --index-url "$TORCH_INDEX_URL"; \
    else \
      pip install torch==2.13.0; \
    fi
COPY requirements.lock /src/requirements.lock
COPY --from=wheels /wheels /wheels
# the client package too: its `polybrief health` is the image's HEALTHCHECK
RUN pip install -c /src/requirements.lock /wheels/*.whl

FROM python:3.11-slim
ENV PATH=/opt/polybrief/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/models \
    POLYBRIEF_CT2_CACHE=/models/ctranslate2 \
    POLYBRIEF_HOST=0.0.0.0 \
    POLYBRIEF_PORT=50051 \
    POLYBRIEF_METRICS_PORT=9464 \
    MALLOC_ARENA_MAX=2
COPY --from=build /opt/polybrief /opt/polybrief
RUN useradd --system --uid 10001 --home-dir /nonexistent polybrief \
    && mkdir -p /models && chown polybrief /models
USER 10001
EXPOSE 50051 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s \
  CMD ["polybrief", "health", "--server", "127.0.0.1:50051"]
ENTRYPOINT ["polybrief-server", "serve"]
