# One image for every Rosetta container: each style, the dispatcher and the webhook inspector.
# The final stage holds the virtual environment without pip or setuptools, the contracts, the workshop,
# and no tests, build tools or chart libraries (the benchmark's chart is the optional extra [chart]).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /app
# The dependencies first, from pyproject.toml alone (README.md is only the package's description),
# so a change to the code or the README reuses this layer.
COPY pyproject.toml ./
RUN mkdir -p services gateway bench workshop && touch README.md && /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall --yes rosetta
COPY README.md ./
COPY services ./services
COPY gateway ./gateway
COPY bench ./bench
COPY workshop ./workshop
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools wheel pbr

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 rosetta
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Contracts served at /contracts/ and read by the clients.
COPY protos ./protos
COPY wsdl ./wsdl
COPY contracts ./contracts
# The teacher's guide and the labs, served at /workshop/ (`rosetta workshop` uses the installed package).
COPY workshop ./workshop
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ROSETTA_HOST=0.0.0.0 \
    ROSETTA_PORT=8000 \
    ROSETTA_GRPC_PORT=50051 \
    ROSETTA_PROJECT_DIR=/app
USER rosetta
EXPOSE 8000 50051
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ROSETTA_PORT', '8000'), timeout=3)"]
CMD ["rosetta", "serve"]
