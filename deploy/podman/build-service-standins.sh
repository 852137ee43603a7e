#!/usr/bin/env bash
# Builds local stand-ins, from Debian packages, for the public service images deploy/compose.yaml
# uses, on machines that cannot pull from public registries (run build-local-bases.sh first):
#
#   localhost/tollgate-base/redis:bookworm       redis-server 7.0   for redis:7.4
#   localhost/tollgate-base/postgres:bookworm    PostgreSQL 15      for postgres:17
#   localhost/tollgate-base/prometheus:bookworm  Prometheus 2.42    for prom/prometheus:v2.55.1
#
# Each behaves as compose.yaml expects of the public image: same commands, health checks, data
# paths and environment (POSTGRES_USER/PASSWORD/DB). Grafana has no Debian package, so it has no
# stand-in. deploy/podman/compose-up.sh points compose.yaml at these images.
set -euo pipefail

PODMAN=${PODMAN:-podman}
SUITE=bookworm
BASE=localhost/tollgate-base/debian:$SUITE
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

$PODMAN image exists "$BASE" || { echo "run deploy/podman/build-local-bases.sh first" >&2; exit 1; }

# build TAG CONTAINERFILE-BODY: one image per service, its entry point script copied in if any.
build() {
  local tag=$1 body=$2
  rm -rf "$work/ctx" && mkdir -p "$work/ctx"
  cp "$here"/standins/*.sh "$work/ctx/"
  printf 'FROM %s\n%s\n' "$BASE" "$body" > "$work/ctx/Containerfile"
  $PODMAN build --network host -t "$tag" -f "$work/ctx/Containerfile" "$work/ctx"
}

install() {
  echo "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $* && rm -rf /var/lib/apt/lists/*"
}

$PODMAN image exists localhost/tollgate-base/redis:$SUITE || build localhost/tollgate-base/redis:$SUITE "$(install redis-server)
COPY redis-entrypoint.sh /usr/local/bin/redis-entrypoint.sh
RUN mkdir -p /data
WORKDIR /data
ENTRYPOINT [\"/usr/local/bin/redis-entrypoint.sh\"]
CMD [\"redis-server\"]"

$PODMAN image exists localhost/tollgate-base/postgres:$SUITE || build localhost/tollgate-base/postgres:$SUITE "$(install postgresql)
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data
ENTRYPOINT [\"/usr/local/bin/postgres-entrypoint.sh\"]"

$PODMAN image exists localhost/tollgate-base/prometheus:$SUITE || build localhost/tollgate-base/prometheus:$SUITE "$(install prometheus)
RUN mkdir -p /prometheus /etc/prometheus
WORKDIR /prometheus
ENTRYPOINT [\"/usr/bin/prometheus\"]
CMD [\"--config.file=/etc/prometheus/prometheus.yml\", \"--storage.tsdb.path=/prometheus\"]"

$PODMAN images --filter reference='localhost/tollgate-base/*'
