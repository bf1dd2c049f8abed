# Stand-in for nginx:1.27 when the registry cannot be reached: Debian bookworm's nginx 1.22
# (with the HTTP/2 and gRPC modules) and curl, config at /etc/nginx/nginx.conf, in the foreground.
FROM rosetta-standin/bookworm:minbase
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light curl \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
    && mkdir -p /usr/share/nginx/html
EXPOSE 80
STOPSIGNAL SIGQUIT
LABEL org.rosetta.standin="nginx:1.27 (Debian bookworm's nginx 1.22)"
CMD ["nginx", "-g", "daemon off;"]
