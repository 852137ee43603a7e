#!/usr/bin/env bash
# Syscalls, context switches and CPU per metered request, of the gateway and of Redis, counted by
# `perf stat` over a window of a steady run (issue 18). Compares gateway jars: each JAR argument is
# started in turn (in the order given, so A B A B interleaves), driven through the same stub with one
# key, and measured twice: at a fixed rate (open loop) and at max throughput (closed loop).
#
#   load-tests/syscalls.sh /tmp/a/tollgate.jar /tmp/b/tollgate.jar /tmp/a/tollgate.jar /tmp/b/tollgate.jar
#
# Tunables: RATE (1000), WINDOW (seconds counted, 8), WARMUP (seconds before the window, 10),
# CONNECTIONS (64), SERVER_CPU (1), DRIVER_CPU (0), REDIS_DB (3, flushed), OUT (a .tsv to append to),
# PROFILE_DIR (if set: after the counted windows, one more max-throughput run per jar with a JFR
# recording, written there as profile-<n>.jfr and summarised as profile-<n>.md). The driver reads its key
# from a file, never from its command line: JFR records the machine's process list, arguments included.
# Needs what bench.sh needs (local Redis and PostgreSQL, built stub jar) plus perf with access to the
# raw_syscalls tracepoint.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RATE=${RATE:-1000} WINDOW=${WINDOW:-8} WARMUP=${WARMUP:-10} CONNECTIONS=${CONNECTIONS:-64}
SERVER_CPU=${SERVER_CPU:-1} DRIVER_CPU=${DRIVER_CPU:-0} REDIS_DB=${REDIS_DB:-3}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=tollgate_bench
OUT=${OUT:-/dev/stdout}
WORK=$(mktemp -d /tmp/tollgate-syscalls.XXXXXX)
JAR_STUB=$ROOT/load-tests/target/stub-upstream.jar
CONFIG=$ROOT/load-tests/bench/tollgate-bench.yaml
export TOLLGATE_ADMIN_TOKEN=bench-admin-token REDIS_URL=redis://127.0.0.1:6379/$REDIS_DB
export DATABASE_URL=postgresql://$PGUSER@$PGHOST:$PGPORT/$DB TOLLGATE_DATA_DIR=$WORK/data
ADMIN=http://127.0.0.1:19081
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
taskset -p -c "$DRIVER_CPU" $$ >/dev/null
. "$ROOT/load-tests/lib.sh"   # wait_http, admitted
REDIS_PID=$(redis-cli info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')

taskset -c "$SERVER_CPU" java -Xms512m -Xmx512m -jar "$JAR_STUB" --port 19100 >"$WORK/stub.log" 2>&1 &
PIDS+=($!)
wait_http http://127.0.0.1:19100/v1/models
[ "$OUT" = /dev/stdout ] || [ -s "$OUT" ] || printf 'jar\ttransport\tmode\trequests\tgw_syscalls_per_req\tgw_cs_per_req\tgw_cpu_us_per_req\tredis_syscalls_per_req\tredis_cpu_us_per_req\tload\n' >>"$OUT"
for jar in "$@"; do
  psql -d postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
  redis-cli -n "$REDIS_DB" FLUSHDB >/dev/null
  taskset -c "$SERVER_CPU" java -Xms1g -Xmx1g -jar "$jar" --config "$CONFIG" >"$WORK/gateway.log" 2>&1 &
  GW=$!
  PIDS+=("$GW")
  wait_http "$ADMIN/health/ready"
  transport=$(curl -fs "$ADMIN/health/live" | sed -n 's/.*"transport":"\([a-z_]*\)".*/\1/p')
  java -cp "$JAR_STUB" io.tollgate.loadtests.driver.BenchSetup --admin "$ADMIN" --accounts 1 --keys-per-account 1 --plan bench \
    --name main --out "$WORK/main.keys" >/dev/null
  for mode in rate max; do
    r=$RATE; [ "$mode" = max ] && r=0
    java -Xms512m -Xmx512m -cp "$JAR_STUB" io.tollgate.loadtests.driver.LoadDriverMain --name "$mode" --out "$WORK" \
      --url http://127.0.0.1:19080/v1/chat/completions --keys "$WORK/main.keys" --rate "$r" --connections "$CONNECTIONS" \
      --warmup-s "$WARMUP" --duration-s "$((WINDOW + 4))" >/dev/null 2>&1 &
    drv=$!
    sleep "$((WARMUP + 2))"
    a0=$(admitted "$ADMIN")
    perf stat -x, -e raw_syscalls:sys_enter,context-switches,task-clock -p "$GW" -o "$WORK/gw.perf" -- sleep "$WINDOW" &
    p1=$!
    perf stat -x, -e raw_syscalls:sys_enter,task-clock -p "$REDIS_PID" -o "$WORK/redis.perf" -- sleep "$WINDOW" &
    p2=$!
    wait "$p1" "$p2"
    a1=$(admitted "$ADMIN")
    wait "$drv" || true
    n=$((a1 - a0))
    ev() { awk -F, -v e="$2" '$3 == e {print $1}' "$1"; }
    awk -v jar="$jar" -v t="$transport" -v m="$mode" -v rate="$RATE" -v n="$n" -v gs="$(ev "$WORK/gw.perf" raw_syscalls:sys_enter)" \
      -v gc="$(ev "$WORK/gw.perf" context-switches)" -v gt="$(ev "$WORK/gw.perf" task-clock)" \
      -v rs="$(ev "$WORK/redis.perf" raw_syscalls:sys_enter)" -v rt="$(ev "$WORK/redis.perf" task-clock)" \
      -v la="$(cut -d' ' -f1-3 /proc/loadavg)" \
      'BEGIN {printf "%s\t%s\t%s\t%d\t%.2f\t%.2f\t%.1f\t%.2f\t%.1f\t%s\n", jar, t, (m == "max" ? "max" : m "=" rate), n, gs / n, gc / n, gt * 1000 / n, rs / n, rt * 1000 / n, la}' >>"$OUT"
  done
  if [ -n "${PROFILE_DIR:-}" ]; then
    mkdir -p "$PROFILE_DIR"
    PROFILED=$(( ${PROFILED:-0} + 1 ))
    jcmd "$GW" JFR.start name=p settings=profile delay="${WARMUP}s" duration="${WINDOW}s" filename="$PROFILE_DIR/profile-$PROFILED.jfr" >/dev/null
    java -Xms512m -Xmx512m -cp "$JAR_STUB" io.tollgate.loadtests.driver.LoadDriverMain --name profile --out "$WORK" \
      --url http://127.0.0.1:19080/v1/chat/completions --keys "$WORK/main.keys" --rate 0 --connections "$CONNECTIONS" \
      --warmup-s "$WARMUP" --duration-s "$((WINDOW + 2))" >/dev/null 2>&1
    sleep 1
    { echo "# $jar ($transport), metered, max throughput"; echo
      java -cp "$JAR_STUB" io.tollgate.loadtests.report.JfrHotFrames "$PROFILE_DIR/profile-$PROFILED.jfr" 25; } >"$PROFILE_DIR/profile-$PROFILED.md"
  fi
  kill -TERM "$GW"; wait "$GW" 2>/dev/null || true
done
