# musl-check as a container: the GitHub App (`musl-check serve`) by default.
#   docker build -t musl-check .
#   docker run -p 3000:3000 -v musl-check-data:/data musl-check
# The base is pinned to a full Python release on a named Debian release, the
# same in both stages (the venv's interpreter is the base image's). Pin the
# digest too (`python:...@sha256:...`) where your registry policy asks for it.
# https://docs.docker.com/build/building/best-practices/#pin-base-image-versions

# Build stage: make the wheel and install it, with the Redis extra (compose.yaml
# runs a shared Redis store), into a self-contained virtual environment.
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
RUN python -m venv /opt/musl-check \
    && /opt/musl-check/bin/pip install ".[redis]"

# Run stage: no build tools, no sources; only the virtual environment.
FROM python:3.11.11-slim-bookworm
# A fixed numeric uid/gid, so `USER` is non-root to runtimes that check
# (Kubernetes runAsNonRoot) and volume ownership is predictable.
RUN groupadd --system --gid 10001 musl-check \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data musl-check \
    && mkdir /data && chown 10001:10001 /data
COPY --from=build /opt/musl-check /opt/musl-check
# The store, `.env` and the setup link live in /data, a volume that outlives
# the container (relative paths resolve against the working directory).
ENV PATH=/opt/musl-check/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    MUSL_CHECK_STORE=sqlite:////data/musl-check.sqlite3
VOLUME /data
WORKDIR /data
USER 10001:10001
EXPOSE 3000
# The slim image has no curl: the interpreter asks /healthz on $PORT, and a
# non-2xx answer (503: store unavailable) or no answer marks it unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]
CMD ["musl-check", "serve"]
