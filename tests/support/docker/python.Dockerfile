# Stand-in for python:3.11-slim when the registry cannot be reached: Debian bookworm's Python 3.11
# with pip and venv, `python` and `pip` on PATH like the official image.
FROM rosetta-standin/bookworm:minbase
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv python3-pip \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3.11 /usr/local/bin/python \
    && ln -s /usr/bin/python3.11 /usr/local/bin/python3 \
    && ln -s /usr/bin/pip3 /usr/local/bin/pip
ENV LANG=C.UTF-8 SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt
LABEL org.rosetta.standin="python:3.11-slim (Debian bookworm's Python 3.11)"
CMD ["python3"]
