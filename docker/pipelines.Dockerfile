# The one-shot bootstrap job: seeds data, trains, registers, indexes, replays and
# builds drift reports (pipelines/bootstrap.py). Build from the repository root:
#   docker build -f docker/pipelines.Dockerfile -t sentinel-scout/pipelines:0.1.0 .
# The base is pinned by tag only (no digest we could verify offline); pin a digest
# at build time with --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the pipelines' dependency group, resolved from uv.lock into /opt/venv --
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --group pipelines --no-install-project

# --- runtime: the interpreter, the venv and our code; no compiler, no uv -------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app \
    && install --directory --owner=10001 --group=10001 /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY api/ ./api/
COPY pipelines/ ./pipelines/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg \
    DATA_DIR=/data
USER 10001:10001
# A one-shot job has no port of its own: healthy means the model registry every
# seed step writes to still answers (MLflow's /health).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", \
         "import os, urllib.request as u; u.urlopen(os.environ['MLFLOW_TRACKING_URI'] + '/health', timeout=4)"]
CMD ["python", "-m", "pipelines.bootstrap", "all"]
