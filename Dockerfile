# Empathy's Airflow image: the official apache/airflow image, extended at build time with the
# pinned requirements and the empathy package (never _PIP_ADDITIONAL_REQUIREMENTS, which would
# reinstall on every container start). The Python version matches the one requirements.txt was
# frozen on. docker-compose.yaml builds it (`docker compose build`).
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION

USER root
# EMPATHY_HOME (the DuckDB file, landing/), EMPATHY_WORK_DIR (hand-offs) and EMPATHY_OUTBOX_DIR exist in the
# image with the airflow user's ownership, so named volumes mounted there start writable. The
# marker file is what default-queue workers get as a parent of EMPATHY_HOME: under a file, no
# directory (and so no stray second database) can be created.
RUN mkdir -p /opt/empathy/landing /opt/empathy-work /opt/empathy-outbox \
    && chown -R airflow:0 /opt/empathy /opt/empathy-work /opt/empathy-outbox \
    && chmod -R g+rwX /opt/empathy /opt/empathy-work /opt/empathy-outbox \
    && echo "This worker does not serve the duckdb queue: tasks here must not open DuckDB." \
       > /opt/airflow/NOT-THE-DUCKDB-WORKER
USER airflow

COPY --chown=airflow:0 requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements.txt

# The product itself, baked in (docker-compose.yaml also mounts ./include over it for development).
COPY --chown=airflow:0 pyproject.toml /opt/empathy-src/pyproject.toml
COPY --chown=airflow:0 include /opt/empathy-src/include
RUN pip install --no-cache-dir --no-deps /opt/empathy-src

COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins

ENV EMPATHY_HOME=/opt/empathy \
    EMPATHY_WORK_DIR=/opt/empathy-work \
    EMPATHY_OUTBOX_DIR=/opt/empathy-outbox \
    EMPATHY_DUCKDB_QUEUE=duckdb
