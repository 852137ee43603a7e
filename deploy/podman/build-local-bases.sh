#!/usr/bin/env bash
# Builds local stand-ins for the Dockerfile's public base images from Debian packages, for
# machines that cannot pull from public registries (no Docker Hub, only a Debian mirror):
#
#   localhost/tollgate-base/debian:bookworm   debootstrap --variant=minbase bookworm
#   localhost/tollgate-base/build:17          + openjdk-17-jdk-headless, maven   (for maven:3.9-eclipse-temurin-17)
#   localhost/tollgate-base/jre:17            + openjdk-17-jre-headless          (for eclipse-temurin:17-jre)
#
# Then deploy/podman/build-image.sh builds Tollgate's image on them. Needs root, podman,
# debootstrap. Environment:
#   DEBIAN_MIRROR  default: the first http(s) mirror in /etc/apt, else http://deb.debian.org/debian
#   PODMAN         default: podman  (on hosts where crun cannot manage cgroups:
#                  PODMAN="podman --runtime runc --cgroup-manager=cgroupfs")
set -euo pipefail

PODMAN=${PODMAN:-podman}
SUITE=bookworm
if [[ -z "${DEBIAN_MIRROR:-}" ]]; then
  DEBIAN_MIRROR=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null \
    | head -n1 | awk '{print $2}') || true
  DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! $PODMAN image exists localhost/tollgate-base/debian:$SUITE; then
  echo "debootstrap $SUITE from $DEBIAN_MIRROR" >&2
  debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$DEBIAN_MIRROR" >&2
  # The image's apt uses the same mirror; no package caches or lists in the layer.
  echo "deb $DEBIAN_MIRROR $SUITE main" > "$work/rootfs/etc/apt/sources.list"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -c . | $PODMAN import - localhost/tollgate-base/debian:$SUITE
  rm -rf "$work/rootfs"
fi

# One apt-get layer each.
packages_image() {
  local tag=$1; shift
  cat > "$work/Containerfile" <<CONTAINERFILE
FROM localhost/tollgate-base/debian:$SUITE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $* \\
 && rm -rf /var/lib/apt/lists/*
CONTAINERFILE
  $PODMAN build --network host -t "$tag" -f "$work/Containerfile" "$work"
}

$PODMAN image exists localhost/tollgate-base/build:17 \
  || packages_image localhost/tollgate-base/build:17 openjdk-17-jdk-headless maven ca-certificates-java
$PODMAN image exists localhost/tollgate-base/jre:17 \
  || packages_image localhost/tollgate-base/jre:17 openjdk-17-jre-headless

$PODMAN images --filter reference='localhost/tollgate-base/*'
