#!/bin/bash
# Entry point of the local Redis stand-in (build-service-standins.sh). Like the official redis
# image, a redis-server started without a configuration file turns protected mode off, so that
# other containers on the compose network can connect (the network, not Redis, is the boundary).
set -euo pipefail
if [[ "${1:-}" == "redis-server" ]]; then
  shift
  exec redis-server --protected-mode no "$@"
fi
exec "$@"
