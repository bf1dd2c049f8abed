#!/bin/sh
# As the official image: `redis-server` with no config file listens on every address with
# protected mode off (the compose network is the boundary), as the redis user.
set -eu
if [ "$1" = redis-server ]; then
  shift
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server --bind '* -::*' --protected-mode no "$@"
fi
exec "$@"
