#!/usr/bin/env bash
# Builds Tollgate's image with podman on the local stand-in base images made by
# build-local-bases.sh (run that first), from the repository root:
#
#   deploy/podman/build-local-bases.sh && deploy/podman/build-image.sh
#
# Tags localhost/tollgate:local (the runtime image) and localhost/tollgate-build:local (the build
# stage, which holds stub-upstream.jar for the compose file's fake upstream). Environment:
#   PODMAN        default: podman (see build-local-bases.sh)
#   MAVEN_REPO    optional: a Maven local repository to lend the build stage (mounted at
#                 /root/.m2/repository), so it need not download every dependency again. The
#                 build writes downloads into it; lend a copy, not one other builds rely on.
set -euo pipefail

PODMAN=${PODMAN:-podman}
cd "$(dirname "$0")/../.."

args=(--network host
  --build-arg BUILD_IMAGE=localhost/tollgate-base/build:17
  --build-arg RUNTIME_IMAGE=localhost/tollgate-base/jre:17)
if [[ -n "${MAVEN_REPO:-}" ]]; then
  args+=(--volume "$(cd "$MAVEN_REPO" && pwd):/root/.m2/repository")
fi

$PODMAN build "${args[@]}" --target build -t localhost/tollgate-build:local -f Dockerfile .
$PODMAN build "${args[@]}" -t localhost/tollgate:local -f Dockerfile .
$PODMAN images --filter reference=localhost/tollgate:local
