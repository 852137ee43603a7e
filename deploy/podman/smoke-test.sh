#!/usr/bin/env bash
# Runs the image built by build-image.sh on its embedded default and checks what a deployment
# relies on; prints one line per check and exits non-zero on the first failure:
#   runs as a non-root user, with a read-only root filesystem and its data on a volume;
#   /health/ready answers 200; a metered request through the proxy is charged;
#   /metrics exposes tollgate_* series; SIGTERM stops it cleanly (embedded servers stopped, no kill);
#   after a restart the account and its balance are still there.
# Uses host networking and the ports below (change them if they are taken). Environment:
#   PODMAN (see build-local-bases.sh), PROXY_PORT (18080), ADMIN_PORT (18081), STUB_PORT (19100),
#   KEEP=1 keeps the container and volume afterwards.
set -euo pipefail

PODMAN=${PODMAN:-podman}
PROXY_PORT=${PROXY_PORT:-18080}
ADMIN_PORT=${ADMIN_PORT:-18081}
STUB_PORT=${STUB_PORT:-19100}
NAME=tollgate-smoke
VOLUME=tollgate-smoke-data
TOKEN=smoke-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')   # 70 characters: the image's admin port is not loopback, so startup refuses tokens under 32
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
cleanup() {
  $PODMAN rm -f "$NAME-stub" >/dev/null 2>&1 || true
  if [[ "${KEEP:-}" != 1 ]]; then
    $PODMAN rm -f "$NAME" >/dev/null 2>&1 || true
    $PODMAN volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; $PODMAN logs --tail 40 "$NAME" >&2 || true; exit 1; }
ok() { echo "ok   $*"; }
now_ms() { date +%s%3N; }

# Wait for /health/ready; prints the milliseconds it took since $1.
wait_ready() {
  local since=$1
  for _ in $(seq 1 600); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/health/ready") == 200 ]]; then
      echo $(( $(now_ms) - since )); return 0
    fi
    [[ $($PODMAN inspect -f '{{.State.Running}}' "$NAME") == true ]] || fail "container exited before it was ready"
    sleep 0.2
  done
  fail "/health/ready not 200 after 120 s"
}

# The example configuration, with the stub upstream on STUB_PORT.
sed "s#http://127.0.0.1:9100/#http://127.0.0.1:$STUB_PORT/#" tollgate.yaml > "$work/tollgate.yaml"
chmod 644 "$work/tollgate.yaml"

$PODMAN rm -f "$NAME" "$NAME-stub" >/dev/null 2>&1 || true
$PODMAN volume rm -f "$VOLUME" >/dev/null 2>&1 || true
$PODMAN volume create "$VOLUME" >/dev/null
$PODMAN run -d --name "$NAME-stub" --network host localhost/tollgate-build:local \
  java -jar /src/load-tests/target/stub-upstream.jar --host 127.0.0.1 --port "$STUB_PORT" >/dev/null

start=$(now_ms)
$PODMAN run -d --name "$NAME" --network host --read-only \
  -v "$VOLUME:/app/data" -v "$work/tollgate.yaml:/app/tollgate.yaml:ro" \
  -e TOLLGATE_ADMIN_TOKEN="$TOKEN" -e TOLLGATE_PROXY_PORT="$PROXY_PORT" -e TOLLGATE_ADMIN_PORT="$ADMIN_PORT" \
  localhost/tollgate:local >/dev/null
first_ms=$(wait_ready "$start")
ok "first start (embedded Redis + PostgreSQL initialised on the volume): ready in ${first_ms} ms"

uid=$($PODMAN top "$NAME" user | awk 'NR>1 {print $1}' | sort -u | tr '\n' ' ')
[[ "$uid" != *root* ]] || fail "processes run as: $uid"
ok "processes run as: $uid(not root); root filesystem read-only: $($PODMAN inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$NAME")"

ADMIN=(-H "Authorization: Bearer $TOKEN" -H 'content-type: application/json')
account=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/admin/v1/accounts" "${ADMIN[@]}" -d '{"name":"Smoke","plan":"free"}' \
  | sed 's/.*"id":\([0-9]*\).*/\1/') || fail "create account"
key=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/admin/v1/accounts/$account/keys" "${ADMIN[@]}" -d '{"name":"smoke"}' \
  | sed 's/.*"key":"\([^"]*\)".*/\1/') || fail "create key"
spendable() {
  curl -sf "http://127.0.0.1:$ADMIN_PORT/admin/v1/accounts/$account" "${ADMIN[@]}" | grep -o '"spendable":[0-9.]*' | cut -d: -f2
}
before=$(spendable)
[[ -n "$before" ]] || fail "no spendable balance on the new account"
status=$(curl -s -o "$work/reply" -w '%{http_code}' "http://127.0.0.1:$PROXY_PORT/v1/chat/completions" \
  -H "Authorization: Bearer $key" -H 'content-type: application/json' \
  -d '{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"Hello through Tollgate"}]}')
[[ $status == 200 ]] || fail "metered request: HTTP $status $(cat "$work/reply")"
balance=""
for _ in $(seq 1 50); do   # the charge is settled once the response's usage is read
  balance=$(spendable)
  [[ -n "$balance" && "$balance" != "$before" ]] && break
  sleep 0.2
done
[[ -n "$balance" && "$balance" != "$before" ]] || fail "credits not charged: spendable still $before"
ok "metered request: HTTP 200, account $account charged, spendable credits $before -> $balance"

series=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -c '^tollgate_') || fail "/metrics"
ok "/metrics: $series tollgate_* samples"

stop_start=$(now_ms)
$PODMAN stop -t 40 "$NAME" >/dev/null
stop_ms=$(( $(now_ms) - stop_start ))
code=$($PODMAN inspect -f '{{.State.ExitCode}}' "$NAME")
[[ $code == 143 || $code == 0 ]] || fail "exit code $code after SIGTERM (137 = killed)"
logs=$($PODMAN logs "$NAME" 2>&1)
grep -q 'embedded PostgreSQL stopped' <<<"$logs" || fail "no 'embedded PostgreSQL stopped' in the log"
grep -q 'embedded Redis stopped' <<<"$logs" || fail "no 'embedded Redis stopped' in the log"
ok "SIGTERM: stopped in ${stop_ms} ms, exit code $code (JVM exit on SIGTERM after its shutdown hooks), embedded servers stopped"

start=$(now_ms)
$PODMAN start "$NAME" >/dev/null
second_ms=$(wait_ready "$start")
ok "restart on the same volume: ready in ${second_ms} ms"
after=$(spendable)
[[ "$after" == "$balance" ]] || fail "after restart spendable=$after, expected $balance"
ok "after restart: account $account still there with spendable $after"
$PODMAN stop -t 40 "$NAME" >/dev/null

size=$($PODMAN image inspect -f '{{.Size}}' localhost/tollgate:local)
ok "image localhost/tollgate:local: $(( size / 1000000 )) MB"
