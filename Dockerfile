# syntax=docker/dockerfile:1
# The postsale worker image (docs/deployment.md).
#
#   docker build -t postsale:0.1.0 .
#   docker run --rm -e POSTSALE_BROKERS=kafka://kafka:9092 -v postsale-data:/var/lib/postsale postsale:0.1.0
#
# Two stages on the same pinned base: `build` installs the project and its dependencies (all of
# them ship manylinux wheels, rocksdict included, so no compiler is needed) into a virtualenv
# at /opt/postsale; `runtime` copies only that virtualenv. The base is pinned by full version;
# pin it by digest as well (python:3.11.11-slim-bookworm@sha256:...) in a registry you control.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/postsale
# Only what the wheel is built from (see .dockerignore): a change in tests/ or docs/ does not
# invalidate this layer.
COPY pyproject.toml README.md ./
COPY models/ models/
COPY rules/ rules/
COPY streams/ streams/
RUN /opt/postsale/bin/pip install --no-cache-dir . \
    && /opt/postsale/bin/python -c "import rocksdict, faust, streams.cli"

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="postsale" \
      org.opencontainers.image.description="Streaming after-sales engine: Faust workers on Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can check it and volume ownership
# (fsGroup) is predictable.
RUN groupadd --system --gid 10001 postsale \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/postsale --no-create-home \
       --shell /usr/sbin/nologin postsale \
    && mkdir -p /var/lib/postsale /etc/postsale \
    && chown 10001:10001 /var/lib/postsale
COPY --from=build /opt/postsale /opt/postsale
# In a container the web endpoints (/metrics, /health/*) must listen on every interface; state
# lives in RocksDB under /var/lib/postsale, which compose and Kubernetes mount as a volume.
# Off loopback the order view (/orders/{id}) needs a token, or the worker refuses to start: give
# POSTSALE_ORDER_VIEW_TOKEN (every store) and/or POSTSALE_ORDER_VIEW_TOKENS_FILE (store:token lines,
# a mounted secret) at run time, never in the image; or POSTSALE_ORDER_VIEW=false.
ENV PATH=/opt/postsale/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    POSTSALE_WEB_HOST=0.0.0.0 \
    POSTSALE_WEB_PORT=6066 \
    POSTSALE_STORE=rocksdb:// \
    POSTSALE_DATA_DIR=/var/lib/postsale
WORKDIR /var/lib/postsale
USER 10001:10001
EXPOSE 6066
# Liveness only: readiness (/health/ready) is false during recovery and rebalances, which is no
# reason to restart a container. No curl in the image: the standard library does it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('POSTSALE_WEB_PORT', '6066') + '/health/live', timeout=4)"]
ENTRYPOINT ["postsale"]
CMD ["worker"]
