#!/usr/bin/env bash
# Faults under steady traffic (issue 14): a Tollgate on the machine's Redis and PostgreSQL gets
# metered chat traffic from the load driver while, one phase after another, Redis is paused,
# PostgreSQL is paused, the gateway is killed with -9 and restarted, and the gateway is killed
# with -9 while SSE streams are open. Each phase uses its own account, so its figures are its own:
# requests sent, 200s, usage rows in Postgres, the Redis balance against the Postgres ledger
# (drift) once traffic stops and once abandoned reservations are swept, and Stripe totals against
# Postgres (n/a without STRIPE_API_KEY: the script never calls Stripe). Writes
# load-tests/results/<date>-chaos.md.
#
#   load-tests/chaos.sh                  # from the repository root (or anywhere); about 5 minutes
#
# Tunables (environment): PHASE_S (seconds of traffic per phase, 30; a restarted gateway takes
# 10-20 s on a busy 2-core machine), FAULT_AT_S (when the fault starts, 8), FAULT_S (how long a
# pause lasts, 5), RATE (chat requests/s, 50), SSE_RATE (streams/s, 20; each stream lasts 1-2 s), REDIS_DB (4, flushed), PGHOST/PGPORT/PGUSER
# (127.0.0.1/5432/postgres, trust auth), RESULTS_NAME (<date>-chaos), SKIP_BUILD (0).
#
# Needs: JDK 17, Maven, curl, jq, redis-cli, psql, and a Redis on 127.0.0.1:6379 and a PostgreSQL on
# $PGHOST:$PGPORT that this script may pause (kill -STOP/-CONT; it always resumes them on exit).
# It recreates the database tollgate_chaos and flushes Redis db $REDIS_DB. All traffic goes to
# 127.0.0.1. Only the processes it started, the Redis answering on port 6379 and the PostgreSQL
# postmaster listening on $PGPORT (and its children) are ever signalled.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PHASE_S=${PHASE_S:-30}
FAULT_AT_S=${FAULT_AT_S:-8}
FAULT_S=${FAULT_S:-5}
RATE=${RATE:-50}
SSE_RATE=${SSE_RATE:-20}
REDIS_DB=${REDIS_DB:-4}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=tollgate_chaos
DATE=$(date -u +%Y-%m-%d)
RESULTS=$ROOT/load-tests/results
RESULTS_NAME=${RESULTS_NAME:-$DATE-chaos}
REPORT=$RESULTS/$RESULTS_NAME.md
WORK=$(mktemp -d /tmp/tollgate-chaos.XXXXXX)
JAR_STUB=$ROOT/load-tests/target/stub-upstream.jar
JAR_GATEWAY=$ROOT/gateway/target/tollgate.jar
CONFIG=$ROOT/load-tests/chaos/tollgate-chaos.yaml
STUB_PORT=19300 PROXY_PORT=19380 ADMIN_PORT=19381
ADMIN=http://127.0.0.1:$ADMIN_PORT
export TOLLGATE_ADMIN_TOKEN=chaos-admin-token
export REDIS_URL=redis://127.0.0.1:6379/$REDIS_DB
export DATABASE_URL=postgresql://$PGUSER@$PGHOST:$PGPORT/$DB
export TOLLGATE_DATA_DIR=$WORK/data
unset STRIPE_API_KEY STRIPE_WEBHOOK_SECRET
COMMAND="PHASE_S=$PHASE_S FAULT_AT_S=$FAULT_AT_S FAULT_S=$FAULT_S RATE=$RATE SSE_RATE=$SSE_RATE load-tests/chaos.sh"

log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

for tool in java mvn psql redis-cli curl jq; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
redis-cli -h 127.0.0.1 -p 6379 -n "$REDIS_DB" ping >/dev/null || die "Redis is not answering on 127.0.0.1:6379"
psql -d postgres -Atqc 'select 1' >/dev/null || die "PostgreSQL is not answering on $PGHOST:$PGPORT as $PGUSER"

# The Redis answering on 6379 names its own pid; the postmaster's pid file names its pid and port.
REDIS_PID=$(redis-cli -h 127.0.0.1 -p 6379 info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
PG_DATA=$(psql -d postgres -Atqc 'SHOW data_directory')
PG_PID=$(sed -n 1p "$PG_DATA/postmaster.pid")
[ "$(sed -n 4p "$PG_DATA/postmaster.pid")" = "$PGPORT" ] || die "the postmaster in $PG_DATA does not listen on $PGPORT"
[ -n "$REDIS_PID" ] && [ -n "$PG_PID" ] || die "could not find the Redis and PostgreSQL processes"

PIDS=()
resume_all() {
  kill -CONT "$REDIS_PID" 2>/dev/null || true
  kill -CONT "$PG_PID" 2>/dev/null || true
  for p in $(pgrep -P "$PG_PID" || true); do kill -CONT "$p" 2>/dev/null || true; done
}
cleanup() {
  resume_all
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building the jars (mvn package -DskipTests; nothing is installed into ~/.m2)"
  mvn -B -ntp -q package -DskipTests
fi
[ -f "$JAR_STUB" ] && [ -f "$JAR_GATEWAY" ] || die "build the jars first (mvn -B -ntp -q package -DskipTests)"

wait_http() { # URL, seconds
  for _ in $(seq 1 $(($2 * 5))); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done
  die "$1 did not come up within $2 s"
}

GATEWAY_PID=
start_gateway() {
  java -Xms256m -Xmx512m -jar "$JAR_GATEWAY" --config "$CONFIG" >>"$WORK/gateway.log" 2>&1 &
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
  wait_http "$ADMIN/health/ready" 120
}
kill_gateway() {
  kill -KILL "$GATEWAY_PID"
  wait "$GATEWAY_PID" 2>/dev/null || true
}

log "fresh database $DB and Redis db $REDIS_DB"
PGOPTIONS="-c client_min_messages=warning" psql -d postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
redis-cli -h 127.0.0.1 -p 6379 -n "$REDIS_DB" FLUSHDB >/dev/null

log "stub upstream on :$STUB_PORT (SSE: 10 chunks 100 ms apart), Tollgate on :$PROXY_PORT"
java -Xmx256m -jar "$JAR_STUB" --port "$STUB_PORT" --chunks 10 --chunk-delay-ms 100 >"$WORK/stub.log" 2>&1 &
PIDS+=("$!")
start_gateway
wait_http "http://127.0.0.1:$STUB_PORT/v1/models" 60

driver() { java -Xmx256m -cp "$JAR_STUB" io.tollgate.loadtests.driver.LoadDriverMain "$@"; }
setup() { java -cp "$JAR_STUB" io.tollgate.loadtests.driver.BenchSetup --admin "$ADMIN" --token "$TOLLGATE_ADMIN_TOKEN" "$@"; }
sql() { psql -d "$DB" -Atqc "$1"; }
stream_backlog() {
  redis-cli -h 127.0.0.1 -p 6379 -n "$REDIS_DB" EVAL \
    "local t = 0 for s = 0, 15 do t = t + redis.call('XLEN', 'tg:{s' .. s .. '}:usage') end return t" 0
}
drift() { # ACCOUNT: the Redis balance minus the Postgres ledger's
  curl -fs -H "authorization: Bearer $TOLLGATE_ADMIN_TOKEN" "$ADMIN/admin/v1/accounts/$1/credits?limit=1" \
    | jq -r 'if .spendable == null then "no hot balance" else (.spendable - .ledgerSpendable) end'
}

pause_redis() { kill -STOP "$REDIS_PID"; sleep "$FAULT_S"; kill -CONT "$REDIS_PID"; }
pause_postgres() {
  local children
  kill -STOP "$PG_PID" # a stopped postmaster forks no new backends, so the list below is complete
  children=$(pgrep -P "$PG_PID" || true)
  # shellcheck disable=SC2086
  [ -z "$children" ] || kill -STOP $children
  sleep "$FAULT_S"
  # shellcheck disable=SC2086
  [ -z "$children" ] || kill -CONT $children
  kill -CONT "$PG_PID"
}
restart_gateway() { kill_gateway; start_gateway; }

ROWS=()
phase() { # NAME SCENARIO RATE FAULT(none|pause_redis|pause_postgres|restart_gateway) DESCRIPTION
  local name=$1 scenario=$2 rate=$3 fault=$4 what=$5
  local account started driver_pid sent ok errors rows rows200 unbilled credits d_end d_final converged swept
  setup --accounts 1 --keys-per-account 2 --plan chaos --name "chaos-$name" --out "$WORK/$name.keys" \
    --ids-out "$WORK/$name.ids" >/dev/null 2>>"$WORK/setup.log"
  account=$(head -1 "$WORK/$name.ids")
  log "phase $name (account $account): $scenario at $rate/s for $PHASE_S s; fault at ${FAULT_AT_S} s: $what"
  started=$(date -u +'%Y-%m-%dT%H:%M:%S')
  driver --name "$name" --url "http://127.0.0.1:$PROXY_PORT/v1/chat/completions" --keys "$WORK/$name.keys" \
    --scenario "$scenario" --rate "$rate" --connections 64 --warmup-s 0 --duration-s "$PHASE_S" \
    >"$WORK/$name.txt" 2>"$WORK/$name.err" &
  driver_pid=$!
  PIDS+=("$driver_pid")
  if [ "$fault" != none ]; then
    sleep "$FAULT_AT_S"
    log "  fault: $what"
    "$fault"
    log "  fault over"
  fi
  wait "$driver_pid" || die "the load driver failed in phase $name: $(tail -5 "$WORK/$name.err")"
  # Settled usage reaches Postgres, then abandoned reservations are swept (TTL 10 s, sweeper every 10 s).
  for _ in $(seq 1 300); do [ "$(stream_backlog)" -eq 0 ] && break; sleep 0.2; done
  sleep 1
  d_end=$(drift "$account")
  converged=0
  d_final=$d_end
  for i in $(seq 0 45); do
    d_final=$(drift "$account")
    [ "$d_final" = 0 ] && { converged=$i; break; }
    converged=">45"
    sleep 1
  done
  sent=$(sed -n 's/^  requests \([0-9]*\),.*/\1/p' "$WORK/$name.txt")
  ok=$(sed -n 's/^  responses .*\b200=\([0-9]*\).*/\1/p' "$WORK/$name.txt")
  errors=$(sed -n 's/^  errors \(.*\)$/\1/p' "$WORK/$name.txt")
  rows=$(sql "SELECT count(*) FROM usage_events WHERE account_id = $account")
  rows200=$(sql "SELECT count(*) FROM usage_events WHERE account_id = $account AND status = 200")
  credits=$(sql "SELECT coalesce(sum(credits), 0) FROM usage_events WHERE account_id = $account")
  swept=$(awk -v since="$started" '$0 >= since' "$WORK/gateway.log" \
    | sed -n 's/.*refunded \([0-9]*\) abandoned reservation.*/\1/p' | awk '{s += $1} END {print s + 0}')
  unbilled=$(( ${ok:-0} > rows200 ? ${ok:-0} - rows200 : 0 ))
  ROWS+=("| $name | $what | ${sent:-0} | ${ok:-0} | $errors | $rows | $rows200 | **$unbilled** | $credits | $d_end | $d_final (${converged} s) | $swept | n/a |")
  {
    echo "### $name — $what"
    echo
    echo '```'
    cat "$WORK/$name.txt"
    echo '```'
    echo
  } >>"$WORK/details.md"
  log "  sent ${sent:-0}, 200s ${ok:-0}, errors $errors; usage rows $rows ($rows200 with status 200); drift $d_end -> $d_final; swept $swept"
}

phase baseline chat "$RATE" none "no fault"
phase redis-pause chat "$RATE" pause_redis "Redis paused (SIGSTOP) for ${FAULT_S} s"
phase postgres-pause chat "$RATE" pause_postgres "PostgreSQL paused (SIGSTOP, postmaster and backends) for ${FAULT_S} s"
phase gateway-kill chat "$RATE" restart_gateway "gateway killed (-9) and restarted"
phase sse-kill sse "$SSE_RATE" restart_gateway "gateway killed (-9) during SSE streams and restarted"

log "report: $REPORT"
mkdir -p "$RESULTS/$RESULTS_NAME"
cp "$WORK/gateway.log" "$RESULTS/$RESULTS_NAME/gateway.log"
{
  echo "# Chaos run, $DATE"
  echo
  echo "Command: \`$COMMAND\` (git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)), on"
  echo "$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc --all) cores shared with other work;"
  echo "Redis $(redis-cli -h 127.0.0.1 -p 6379 info server | sed -n 's/^redis_version:\(.*\)\r*$/\1/p' | tr -d '\r'),"
  echo "PostgreSQL $(psql -d postgres -Atqc 'SHOW server_version'), both the machine's own (db $REDIS_DB, database $DB)."
  echo "Each phase: its own account (2 keys), open-loop traffic for $PHASE_S s from 64 connections, the fault"
  echo "at $FAULT_AT_S s. Stub upstream: JSON answers at once; SSE streams of 10 chunks 100 ms apart."
  echo
  echo "| phase | fault | sent | 200s | errors (driver) | usage rows | rows with 200 | 200s without a row | credits in rows | drift when traffic stopped | drift after sweep (wait) | reservations swept | Stripe vs Postgres |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "- **sent**/**200s**/**errors**: from the load driver (every request is measured; no warm-up)."
  echo "  \`connect_refused\`: the gateway was down; \`connection_closed\`/\`SocketException\`: requests (or"
  echo "  streams) open when it was killed."
  echo "- **usage rows**: \`usage_events\` rows of the phase's account once the usage streams are empty."
  echo "  **200s without a row**: complete answers (for SSE: ending in \`[DONE]\`) that were never billed."
  echo "  A 200 without a row would be usage lost; a row without a 200 is a request the gateway forwarded"
  echo "  and settled whose answer the client did not get whole (a stream cut by a kill is not one: see below)."
  echo "- **drift**: the account's Redis balance minus its Postgres ledger balance (admin API"
  echo "  \`GET /admin/v1/accounts/{id}/credits\`). Reservations of requests a killed gateway never settled"
  echo "  hold credits in Redis until the sweeper refunds them (\`reservationTtlSeconds: 10\` here), so the"
  echo "  drift right after a kill is negative and must return to 0; the wait is how long that took."
  echo "- **reservations swept**: from the gateway's log (\"refunded N abandoned reservation(s)\")."
  echo "- **sse-kill**: streams cut by the kill have no usage row and their reservations are refunded:"
  echo "  by decision, nothing is billed for them (docs/operations.md, \"A gateway killed during SSE streams\")."
  echo "- **Stripe vs Postgres**: n/a — no \`STRIPE_API_KEY\`; usage stays claimable in \`stripe_meter_outbox\`."
  echo
  echo "The gateway's log of the run: [\`$RESULTS_NAME/gateway.log\`]($RESULTS_NAME/gateway.log)."
  echo
  echo "## Load driver output per phase"
  echo
  cat "$WORK/details.md"
} >"$REPORT"
cat "$REPORT"
