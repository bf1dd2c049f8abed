# Stand-in for postgres:16 when the registry cannot be reached: Debian bookworm's PostgreSQL 15,
# honouring the official image's contract (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, data in
# /var/lib/postgresql/data, pg_isready, fast shutdown on stop).
FROM rosetta-standin/bookworm:minbase
RUN mkdir -p /etc/postgresql-common \
    && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
LABEL org.rosetta.standin="postgres:16 (Debian bookworm's PostgreSQL 15)"
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
