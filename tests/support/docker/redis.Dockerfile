# Stand-in for redis:7 when the registry cannot be reached: Debian bookworm's Redis 7.0, reachable
# from other containers like the official image (which turns protected mode off when given no
# config file), in the foreground.
FROM rosetta-standin/bookworm:minbase
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
EXPOSE 6379
LABEL org.rosetta.standin="redis:7 (Debian bookworm's Redis 7.0)"
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
