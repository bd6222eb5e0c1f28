# polybrief server image.
#
#   docker build -t polybrief-server:0.2.0 .
#   docker run --read-only --tmpfs /tmp -p 50051:50051 -v polybrief-models:/models polybrief-server:0.2.0
#
# Models are NOT baked in by default: mount the caches filled by `polybrief-fetch-models`
# (the Kubernetes model-pull Job does it; deploy/kubernetes/README.md) at /models. Or bake
# them in at build time (needs the model hub, or HF_ENDPOINT of a mirror, from the build):
#
#   docker build --build-arg MODELS="distilbart-cnn-12-6 opus-mt-en-fr opus-mt-en-ru" \
#     -t polybrief-server:0.2.0-models .
#
# Without models the server still serves extractive briefs and names the missing ones.
#
# Versions come from requirements.lock (as constraints: only the runtime dependencies are
# installed). torch is pinned to 2.13.0; on PyPI that version's Linux wheel bundles CUDA
# (what the GPU image wants): pass the CPU wheel index of your mirror as TORCH_INDEX_URL
# for the small CPU build.
#
# The base image is pinned by digest (every stage). To refresh it:
#   docker buildx imagetools inspect python:3.11-slim --format '{{json .Manifest.Digest}}'
#   (or: crane digest python:3.11-slim)
# and replace the digest below (one line); the tag stays for people reading it.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

FROM ${PYTHON_IMAGE} AS wheels
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /src/requirements.lock
RUN grep -E '^(hatchling|editables|grpcio-tools|mypy-protobuf|protobuf|grpcio|types-protobuf|googleapis-common-protos|pathspec|pluggy|packaging|trove-classifiers|tomlkit|typing_extensions|setuptools)==' \
      /src/requirements.lock > /src/build-tools.txt \
    && pip install --no-deps -r /src/build-tools.txt
COPY proto /src/proto
COPY client /src/client
COPY service /src/service
RUN pip wheel --no-deps --no-build-isolation -w /wheels /src/proto /src/client /src/service

FROM ${PYTHON_IMAGE} AS build
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
RUN pip install -c /src/requirements.lock /wheels/*.whl \
    && pip check

# Optional: the models, pulled and converted into /models at build time.
FROM build AS models
ARG MODELS=""
ARG CT2_COMPUTE_TYPE=auto
ENV HF_HOME=/models/hf \
    POLYBRIEF_CT2_CACHE=/models/ctranslate2
COPY deploy/polybrief-fetch-models /opt/polybrief/bin/polybrief-fetch-models
RUN mkdir -p /models \
    && if [ -n "$MODELS" ]; then polybrief-fetch-models; fi

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/polybrief/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    HF_HOME=/models/hf \
    POLYBRIEF_CT2_CACHE=/models/ctranslate2 \
    POLYBRIEF_HOST=0.0.0.0 \
    POLYBRIEF_PORT=50051 \
    POLYBRIEF_HEALTH_PORT=50052 \
    POLYBRIEF_METRICS_PORT=9464 \
    POLYBRIEF_HTTP_PORT=8080 \
    MALLOC_ARENA_MAX=2
COPY --from=build /opt/polybrief /opt/polybrief
COPY deploy/polybrief-fetch-models /opt/polybrief/bin/polybrief-fetch-models
# root owns the models (read-only for the server); an empty /models is a mount point
COPY --from=models /models /models
RUN groupadd --system --gid 10001 polybrief \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin polybrief
# Runs with a read-only root file system: only /tmp (HOME) and, for the model-pull
# Job, /models are written; mount them (Kubernetes: emptyDir / the models volume).
USER 10001:10001
EXPOSE 50051 50052 9464 8080
# On the plaintext health-only port, so that it works with TLS (and mutual TLS) on.
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s \
  CMD ["polybrief", "health", "--server", "127.0.0.1:50052"]
ENTRYPOINT ["polybrief-server", "serve"]
