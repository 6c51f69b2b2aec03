# The PEP worker service for Camunda 8: `python -m workers` (see docs/camunda8.md).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PEP_DATA_DIR=/var/lib/pepflow \
    PEP_ZEEBE_READY_FILE=/tmp/pep-worker.ready

# Final PEPs get their tagged PDF copy here too, set in-process by Typst (a Python
# package, pepflow/documents/final_pdf.py) in Liberation Sans, metric-compatible with
# the documents' Arial, so the PDF keeps the Word layout: the only system package it needs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-liberation2 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml setup.py ./
COPY pepflow ./pepflow
COPY workers ./workers
# gcc and OpenSSL's headers build the password spin's C part (setup.py) and go again;
# the image keeps only the OpenSSL library it links to
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev libssl-dev \
 && pip install . \
 && (cd / && python -c "from pepflow.documents._spin import spin") \
 && apt-get purge -y --auto-remove gcc libc6-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/pepflow --create-home pep \
 && rm -rf /app/pepflow /app/workers

USER pep
WORKDIR /var/lib/pepflow
# SIGTERM (docker stop) lets the jobs in hand finish; give it more than the longest job
# timeout (120 s): stop_grace_period in docker-compose.yml.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD test -f /tmp/pep-worker.ready || exit 1
CMD ["python", "-m", "workers"]
