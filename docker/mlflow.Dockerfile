# The MLflow tracking server and model registry: SQLite and artifacts under
# /data/mlflow (a named volume in compose). Build from the repository root:
#   docker build -f docker/mlflow.Dockerfile -t sentinel-scout/mlflow:0.1.0 .
# The base is pinned by tag only (no digest we could verify offline); pin a digest
# at build time with --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: only the mlflow group (the server needs none of our code) ----------
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
    uv sync --frozen --only-group mlflow --no-install-project

# --- runtime: the interpreter and the venv; no compiler, no uv -----------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app \
    && install --directory --owner=10001 --group=10001 /data /data/mlflow
COPY --from=build /opt/venv /opt/venv
WORKDIR /home/app
# No background job workers (GenAI scorers, unused here): the native stack's setting.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
USER 10001:10001
EXPOSE 5000
# /health is exempt from MLflow's Host-header check, so the probe needs no host name.
HEALTHCHECK --interval=10s --timeout=5s --start-period=1m --retries=5 \
    CMD ["python", "-c", \
         "import urllib.request as u; u.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
# MLflow 3 refuses Host headers it does not know: allow the compose service name
# (how the other containers reach it) and loopback (the published port).
CMD ["python", "-m", "mlflow", "server", \
     "--backend-store-uri", "sqlite:////data/mlflow/mlflow.db", \
     "--artifacts-destination", "/data/mlflow/artifacts", \
     "--host", "0.0.0.0", "--port", "5000", "--workers", "1", \
     "--allowed-hosts", "mlflow,mlflow:*,localhost,localhost:*,127.0.0.1,127.0.0.1:*"]
