#!/usr/bin/env bash
# One command for the whole comparison (issue 7): the stub upstream called directly, through nginx
# as a plain reverse proxy, through Tollgate pass-through and through Tollgate fully metered — same
# machine, same stub, same load — then the scenarios, the usage pipeline, the JMH microbenchmarks,
# JFR profiles, and the report in load-tests/results/<date>.md with its plots.
#
#   load-tests/bench.sh                      # from the repository root (or anywhere)
#
# Tunables (environment): DURATION (measured seconds per run, 15), WARMUP (seconds per run, 10; open-loop runs ramp up over it),
# RATES ("1000 5000"), WARMUP_ALL (20, JIT warm-up of each target before any run), CONNECTIONS (64), SERVER_CPU (1), DRIVER_CPU (0), PIPELINE_EVENTS (200000),
# MIXED_ACCOUNTS (1000), KEYS_PER_ACCOUNT (10), REDIS_DB (3), PGHOST/PGPORT/PGUSER (127.0.0.1/5432/postgres),
# RESULTS_NAME (the date; names load-tests/results/<name>.md and its raw-data folder, so a second run on
# the same day does not overwrite the first), SKIP_BUILD (0), SKIP_JMH (0), MVN_ARGS (extra Maven arguments, e.g. -Dmaven.repo.local=DIR to keep
# the SNAPSHOT installs away from a shared ~/.m2), JAR_GATEWAY (the gateway jar to run, gateway/target/tollgate.jar;
# point it at a copied jar to compare two builds in one session), SHORT (0; 1 = the comparison only: no profiles,
# scenarios, pipeline or JMH, and MIXED_ACCOUNTS defaults to 10 — with RATES=1000 DURATION=10 WARMUP=5 WARMUP_ALL=10
# a run takes about three minutes, for interleaved A/B runs).
#
# Needs: JDK 17, Maven, a local Redis and PostgreSQL (the script uses Redis db $REDIS_DB, which it
# flushes, and recreates the database tollgate_bench), taskset, curl; installs nginx with apt-get if
# it is missing. Every server runs on core $SERVER_CPU and the load driver on core $DRIVER_CPU.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-15}
WARMUP=${WARMUP:-10}
RATES=${RATES:-"1000 5000"}
WARMUP_ALL=${WARMUP_ALL:-20}
CONNECTIONS=${CONNECTIONS:-64}
SERVER_CPU=${SERVER_CPU:-1}
DRIVER_CPU=${DRIVER_CPU:-0}
PIPELINE_EVENTS=${PIPELINE_EVENTS:-200000}
SHORT=${SHORT:-0}
if [ "$SHORT" = 1 ]; then MIXED_ACCOUNTS=${MIXED_ACCOUNTS:-10}; SKIP_JMH=1; fi
MIXED_ACCOUNTS=${MIXED_ACCOUNTS:-1000}
KEYS_PER_ACCOUNT=${KEYS_PER_ACCOUNT:-10}
REDIS_DB=${REDIS_DB:-3}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=tollgate_bench
DATE=$(date -u +%Y-%m-%d)
RESULTS=$ROOT/load-tests/results
RESULTS_NAME=${RESULTS_NAME:-$DATE}
RAW=$RESULTS/$RESULTS_NAME
WORK=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
JAR_STUB=$ROOT/load-tests/target/stub-upstream.jar
JAR_GATEWAY=${JAR_GATEWAY:-$ROOT/gateway/target/tollgate.jar}
JAR_JMH=$ROOT/load-tests/jmh/target/benchmarks.jar
CONFIG=$ROOT/load-tests/bench/tollgate-bench.yaml
STUB_PORT=19100 NGINX_PORT=19180 PROXY_PORT=19080 ADMIN_PORT=19081
export TOLLGATE_ADMIN_TOKEN=bench-admin-token
export REDIS_URL=redis://127.0.0.1:6379/$REDIS_DB
export DATABASE_URL=postgresql://$PGUSER@$PGHOST:$PGPORT/$DB
export TOLLGATE_DATA_DIR=$WORK/data
COMMAND="SHORT=$SHORT DURATION=$DURATION WARMUP=$WARMUP RATES=\"$RATES\" CONNECTIONS=$CONNECTIONS SERVER_CPU=$SERVER_CPU DRIVER_CPU=$DRIVER_CPU load-tests/bench.sh"

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_AT_START=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 10 {printf "%s%s (%s %%)", sep, $2, $1; sep=", "}')
# log, die, wait_http, cpu_ticks, admitted, usage_rows
. "$ROOT/load-tests/lib.sh"

PIDS=()
# The Redis and PostgreSQL this script uses (not any other instance on the machine): Redis by its
# process_id, PostgreSQL's postmaster and its children (new backends inherit the postmaster's affinity).
backing_pids() {
  redis-cli info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p'
  local pm
  pm=$(head -1 "$(psql -d postgres -Atqc 'SHOW data_directory')/postmaster.pid" 2>/dev/null || true)
  if [ -n "$pm" ]; then echo "$pm"; pgrep -P "$pm" || true; fi
}
restore_affinity() {
  for p in $(backing_pids); do taskset -a -p -c 0-$(($(nproc --all) - 1)) "$p" >/dev/null 2>&1 || true; done
}
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  restore_affinity
  rm -rf "$WORK"
}
trap cleanup EXIT
# The script and every helper it spawns (psql, redis-cli, curl) stay on the driver's core.
taskset -p -c "$DRIVER_CPU" $$ >/dev/null

# ---- prerequisites
for tool in java mvn psql redis-cli curl taskset; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v nginx >/dev/null; then
  log "installing nginx (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
redis-cli -n "$REDIS_DB" ping >/dev/null || die "Redis is not answering on 127.0.0.1:6379"
psql -d postgres -Atqc 'select 1' >/dev/null || die "PostgreSQL is not answering on $PGHOST:$PGPORT as $PGUSER"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building (mvn install -DskipTests, then the JMH benchmarks)"
  # shellcheck disable=SC2086
  mvn -B -ntp -q -o ${MVN_ARGS:-} install -DskipTests 2>/dev/null || mvn -B -ntp -q ${MVN_ARGS:-} install -DskipTests
  # shellcheck disable=SC2086
  mvn -B -ntp -q -o ${MVN_ARGS:-} -f load-tests/jmh/pom.xml package 2>/dev/null \
    || mvn -B -ntp -q ${MVN_ARGS:-} -f load-tests/jmh/pom.xml package
fi
[ -f "$JAR_STUB" ] && [ -f "$JAR_GATEWAY" ] || die "build the jars first (mvn install -DskipTests)"

rm -rf "$RAW" && mkdir -p "$RAW"

# ---- servers, all on $SERVER_CPU
on_server() { taskset -c "$SERVER_CPU" "$@"; }
# In the background, with $! the server's own PID (taskset execs it), so kill and jcmd reach it.
spawn_server() { taskset -c "$SERVER_CPU" "$@" & }
on_driver() { taskset -c "$DRIVER_CPU" "$@"; }
driver() { on_driver java -Xms512m -Xmx512m -cp "$JAR_STUB" io.tollgate.loadtests.driver.LoadDriverMain "$@"; }
pin_backing_services() {
  for p in $(backing_pids); do taskset -a -p -c "$SERVER_CPU" "$p" >/dev/null; done
}

GATEWAY_PID=
start_gateway() {
  local config=${1:-$CONFIG}
  spawn_server java -Xms1g -Xmx1g -jar "$JAR_GATEWAY" --config "$config" >>"$WORK/gateway.log" 2>&1
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
  wait_http "http://127.0.0.1:$ADMIN_PORT/health/ready"
  pin_backing_services
}
stop_gateway() {
  kill -TERM "$GATEWAY_PID" && wait "$GATEWAY_PID" 2>/dev/null || true
}

log "fresh database $DB and Redis db $REDIS_DB"
psql -d postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
redis-cli -n "$REDIS_DB" FLUSHDB >/dev/null
pin_backing_services

log "stub upstream on :$STUB_PORT, nginx on :$NGINX_PORT, Tollgate on :$PROXY_PORT (core $SERVER_CPU); driver on core $DRIVER_CPU"
spawn_server java -Xms512m -Xmx512m -jar "$JAR_STUB" --port "$STUB_PORT" >"$WORK/stub.log" 2>&1
STUB_PID=$!
PIDS+=("$STUB_PID")
sed "s#@WORK@#$WORK#g" load-tests/bench/nginx.conf.template >"$WORK/nginx.conf"
spawn_server nginx -p "$WORK" -c "$WORK/nginx.conf"
NGINX_PID=$!
PIDS+=("$NGINX_PID")
start_gateway
wait_http "http://127.0.0.1:$STUB_PORT/v1/models"
wait_http "http://127.0.0.1:$NGINX_PORT/v1/models"

# ---- accounts and keys through the admin API
setup() { on_driver java -cp "$JAR_STUB" io.tollgate.loadtests.driver.BenchSetup --admin "http://127.0.0.1:$ADMIN_PORT" "$@"; }
log "creating accounts and keys"
setup --accounts 1 --keys-per-account 1 --plan bench --name main --out "$WORK/main.keys"
setup --accounts "$MIXED_ACCOUNTS" --keys-per-account "$KEYS_PER_ACCOUNT" --plan bench --name mixed --concurrency 200 \
  --out "$WORK/mixed.keys" --ids-out "$WORK/mixed.ids" | tee "$WORK/mixed-setup.txt"
setup --accounts 10 --keys-per-account 5 --plan tight --name tight --out "$WORK/tight.keys"
setup --accounts 10 --keys-per-account 5 --plan tiny --name tiny --out "$WORK/tiny.keys"
cat "$WORK/tight.keys" "$WORK/tiny.keys" >"$WORK/overlimit.keys"

url_of() {
  case $1 in
    direct) echo "http://127.0.0.1:$STUB_PORT/v1/chat/completions" ;;
    nginx) echo "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" ;;
    pass) echo "http://127.0.0.1:$PROXY_PORT/pass/v1/chat/completions" ;;
    metered) echo "http://127.0.0.1:$PROXY_PORT/v1/chat/completions" ;;
  esac
}
# The key goes in a file, not on the command line: the JFR profiles record the process list, arguments included.
key_args() { [ "$1" = metered ] && echo "--keys $WORK/main.keys" || true; }

# ---- usage accounting around each metered run
stream_backlog() {
  redis-cli -n "$REDIS_DB" EVAL "local t = 0 for s = 0, 15 do t = t + redis.call('XLEN', 'tg:{s' .. s .. '}:usage') end return t" 0
}
wait_drained() {
  for _ in $(seq 1 600); do [ "$(stream_backlog)" -eq 0 ] && return 0; sleep 0.1; done
  die "the usage streams did not drain"
}
metered_run() { # NAME, then driver arguments
  local name=$1; shift
  local a0 r0 a1 r1 started
  wait_drained
  a0=$(admitted "http://127.0.0.1:$ADMIN_PORT"); r0=$(usage_rows "$DB")
  driver --name "$name" --out "$RAW" "$@"
  a1=$(admitted "http://127.0.0.1:$ADMIN_PORT")
  started=$(date +%s%3N)
  for _ in $(seq 1 600); do
    r1=$(usage_rows "$DB")
    [ "$((r1 - r0))" -ge "$((a1 - a0))" ] && break
    sleep 0.1
  done
  printf 'admittedBefore=%s\nadmittedAfter=%s\nrowsBefore=%s\nrowsAfter=%s\ndrainMs=%s\n' \
    "$a0" "$a1" "$r0" "$r1" "$(($(date +%s%3N) - started))" >"$RAW/$name.usage.txt"
  log "$name: admitted $((a1 - a0)), rows $((r1 - r0))"
}
run_target() { # NAME TARGET, then driver arguments
  local name=$1 target=$2; shift 2
  # shellcheck disable=SC2046
  if [ "$target" = metered ]; then
    metered_run "$name" --url "$(url_of "$target")" $(key_args "$target") "$@"
  else
    driver --name "$name" --out "$RAW" --url "$(url_of "$target")" "$@"
  fi
}

# ---- CPU per server process over the measured part of a run (user + system, from /proc/<pid>/stat),
# so a throughput figure can be read as CPU per request of each process sharing the server core.
# The gateway's own CPU by thread kind: event loops, JIT compilers, GC/VM threads, the rest.
gateway_threads() {
  local t comm el=0 jit=0 gc=0 other=0 ticks
  for t in /proc/"$GATEWAY_PID"/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    ticks=$(sed 's/^.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}')
    case $comm in
      vert.x-eventloo*) el=$((el + ticks)) ;;
      C1\ Compiler*|C2\ Compiler*) jit=$((jit + ticks)) ;;
      "VM Thread"|GC*|G1*) gc=$((gc + ticks)) ;;
      *) other=$((other + ticks)) ;;
    esac
  done
  echo "$el $jit $gc $other"
}
cpu_snapshot() {
  local redis pm
  redis=$(redis-cli info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
  pm=$(head -1 "$(psql -d postgres -Atqc 'SHOW data_directory')/postmaster.pid" 2>/dev/null || true)
  # shellcheck disable=SC2046
  echo "$(date +%s%3N) $(cpu_ticks "$GATEWAY_PID") $(cpu_ticks "$redis") $(cpu_ticks "$pm" $(pgrep -P "$pm")) \
$(cpu_ticks "$STUB_PID") $(cpu_ticks "$NGINX_PID" $(pgrep -P "$NGINX_PID")) $(gateway_threads)"
}
cpu_window() { # NAME: runs in the background beside the driver; skips its warm-up
  local name=$1 a b hz
  hz=$(getconf CLK_TCK)
  sleep "$WARMUP"
  a=$(cpu_snapshot)
  sleep "$DURATION"
  b=$(cpu_snapshot)
  # shellcheck disable=SC2086
  set -- $a $b
  awk -v hz="$hz" -v t0="$1" -v t1="${11}" 'BEGIN {
      printf "wall_s=%.3f\ngateway_cpu_s=%.2f\nredis_cpu_s=%.2f\npostgres_cpu_s=%.2f\nstub_cpu_s=%.2f\nnginx_cpu_s=%.2f\n",
        (t1 - t0) / 1000, ('"${12}"' - '"$2"') / hz, ('"${13}"' - '"$3"') / hz, ('"${14}"' - '"$4"') / hz,
        ('"${15}"' - '"$5"') / hz, ('"${16}"' - '"$6"') / hz
      printf "gateway_eventloop_cpu_s=%.2f\ngateway_jit_cpu_s=%.2f\ngateway_gc_vm_cpu_s=%.2f\ngateway_other_cpu_s=%.2f\n",
        ('"${17}"' - '"$7"') / hz, ('"${18}"' - '"$8"') / hz, ('"${19}"' - '"$9"') / hz, ('"${20}"' - '"${10}"') / hz }' \
    >"$RAW/$name.cpu.txt"
}

log "machine facts"
{
  echo "date=$DATE"
  echo "command=$COMMAND"
  echo "git commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "gateway jar=$JAR_GATEWAY ($(sha256sum "$JAR_GATEWAY" | cut -c1-12))"
  echo "CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc --all) cores"
  echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
  echo "kernel=$(uname -r)"
  echo "JDK=$(java -version 2>&1 | head -2 | tail -1)"
  echo "Redis=$(redis-cli info server | sed -n 's/^redis_version:\(.*\)\r*$/\1/p' | tr -d '\r')"
  echo "PostgreSQL=$(psql -d postgres -Atqc 'SHOW server_version')"
  echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
  echo "placement=core $SERVER_CPU: stub upstream (1 event loop), nginx (1 worker), Tollgate (1 event loop, -Xms1g -Xmx1g), Redis, PostgreSQL; core $DRIVER_CPU: load driver (1 event loop)"
  echo "gateway JVM on one core=$(on_server java -XX:+PrintFlagsFinal -version 2>/dev/null | awk '/ Use(Serial|G1|Parallel)GC / && /true/ {print $2}')"
  echo "runs=warm-up ${WARMUP} s excluded, ${DURATION} s measured; $CONNECTIONS connections"
  echo "load average at start=$LOAD_AT_START"
  echo "processes using ≥ 10 % CPU at start=${BUSY_AT_START:-none}"
} >"$RAW/meta.txt"

# ---- warm-up of every target (JIT), not recorded
log "warming up every target ($WARMUP_ALL s each, not recorded)"
for target in direct nginx pass metered; do
  # shellcheck disable=SC2046
  driver --name "warmup-$target" --url "$(url_of "$target")" $(key_args "$target") --warmup-s "$WARMUP_ALL" --duration-s 1 \
    --connections "$CONNECTIONS" >/dev/null
done

# ---- the comparison: fixed rates, then max throughput
for rate in $RATES; do
  for target in direct nginx pass metered; do
    log "cmp-$rate-$target"
    run_target "cmp-$rate-$target" "$target" --rate "$rate" --connections "$CONNECTIONS" --warmup-s "$WARMUP" --duration-s "$DURATION"
  done
done
for target in direct nginx pass metered; do
  log "cmp-max-$target"
  cpu_window "cmp-max-$target" &
  CPU_JOB=$!
  run_target "cmp-max-$target" "$target" --rate 0 --connections "$CONNECTIONS" --warmup-s "$WARMUP" --duration-s "$DURATION"
  wait "$CPU_JOB"
done

if [ "$SHORT" != 1 ]; then
# ---- profiles (separate runs, so the recording does not touch the measured ones)
for target in metered pass; do
  log "profile-$target (JFR)"
  jcmd "$GATEWAY_PID" JFR.start name="$target" settings=profile delay="${WARMUP}s" duration="${DURATION}s" \
    filename="$RAW/profile-$target.jfr" >/dev/null
  # shellcheck disable=SC2046
  driver --name "profile-$target" --url "$(url_of "$target")" $(key_args "$target") --rate 0 --connections "$CONNECTIONS" \
    --warmup-s "$WARMUP" --duration-s "$DURATION" >"$WORK/profile-$target.txt"
  sleep 2
done

# ---- scenarios
log "scenarios"
SSE_RATE=${SSE_RATE:-1000}
for target in direct metered; do
  run_target "scn-sse-$target" "$target" --scenario sse --rate "$SSE_RATE" --connections "$CONNECTIONS" --warmup-s "$WARMUP" --duration-s "$DURATION"
  run_target "scn-large-$target" "$target" --scenario large --body-bytes 262144 --rate 200 --connections "$CONNECTIONS" \
    --warmup-s "$WARMUP" --duration-s "$DURATION"
done
# Mixed keys, with the settle-to-row delay recorded per event by a trigger that exists only for this run.
psql -d "$DB" -q <<'SQL'
CREATE UNLOGGED TABLE bench_row_delay (delay_ms double precision NOT NULL);
CREATE FUNCTION bench_record_delay() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO bench_row_delay SELECT extract(epoch FROM clock_timestamp() - occurred_at) * 1000 FROM fresh_rows;
  RETURN NULL;
END $$;
CREATE TRIGGER bench_row_delay AFTER INSERT ON usage_event_ids REFERENCING NEW TABLE AS fresh_rows
  FOR EACH STATEMENT EXECUTE FUNCTION bench_record_delay();
SQL
MIXED_RATE=${MIXED_RATE:-1000}
metered_run scn-mixed-metered --url "$(url_of metered)" --keys "$WORK/mixed.keys" --scenario mixed --rate "$MIXED_RATE" \
  --connections "$CONNECTIONS" --warmup-s "$WARMUP" --duration-s "$DURATION"
psql -d "$DB" -Atq -F ' ' -c "DROP TRIGGER bench_row_delay ON usage_event_ids" -c "SELECT count(*),
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY delay_ms)::numeric, 1),
    round(percentile_cont(0.9) WITHIN GROUP (ORDER BY delay_ms)::numeric, 1),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY delay_ms)::numeric, 1),
    round(percentile_cont(0.999) WITHIN GROUP (ORDER BY delay_ms)::numeric, 1),
    round(max(delay_ms)::numeric, 1) FROM bench_row_delay" \
  | awk -v run=scn-mixed-metered -v fi="$(sed -n 's/^ *flushIntervalMs: *\([0-9]*\).*/\1/p' "$CONFIG")" \
      'NF == 6 {printf "run=%s\ncount=%s\np50=%s\np90=%s\np99=%s\np999=%s\nmax=%s\nflushIntervalMs=%s\n", run, $1, $2, $3, $4, $5, $6, fi}' \
  >"$RAW/settle-to-row.txt"
metered_run scn-overlimit-metered --url "$(url_of metered)" --keys "$WORK/overlimit.keys" --scenario overlimit --rate 1000 \
  --connections "$CONNECTIONS" --warmup-s "$WARMUP" --duration-s "$DURATION"

# ---- the usage pipeline alone: fill the streams with the gateway stopped, then time the drain
FILL_LUA='local base = tonumber(ARGV[2]); local n = tonumber(ARGV[1]); local now = ARGV[3]
for i = 1, n do
  local acct = ARGV[4 + (i % (#ARGV - 3))]
  redis.call("XADD", KEYS[1], "*", "event_id", string.format("%08x-%04x-7000-8000-%012x", base, 0, i),
    "account_id", acct, "key_id", "1", "route", "/v1/", "model", "gpt-4o-mini", "input_tokens", "75",
    "output_tokens", "16", "credits", "1", "status", "200", "latency_ms", "1", "estimated", "0", "outcome", "ok", "ts", now)
end
return n'
pipeline() { # BATCH_SIZE
  local batch=$1 per_shard=$((PIPELINE_EVENTS / 16)) config=$WORK/pipeline-$1.yaml
  sed "s/^  flushBatchSize: .*/  flushBatchSize: $batch/" "$CONFIG" >"$config"
  stop_gateway
  log "pipeline: $((per_shard * 16)) events, flushBatchSize $batch"
  local accounts
  accounts=$(head -64 "$WORK/mixed.ids" | tr '\n' ' ')
  for s in $(seq 0 15); do
    # shellcheck disable=SC2086
    redis-cli -n "$REDIS_DB" EVAL "$FILL_LUA" 1 "tg:{s$s}:usage" "$per_shard" "$((RANDOM * 65536 + s * 4096 + batch))" \
      "$(date +%s%3N)" $accounts >/dev/null
  done
  local start now left
  start=$(date +%s%3N)
  spawn_server java -Xms1g -Xmx1g -jar "$JAR_GATEWAY" --config "$config" >>"$WORK/gateway.log" 2>&1
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
  {
    echo "elapsed_ms,backlog"
    while :; do
      now=$(date +%s%3N); left=$(stream_backlog)
      echo "$((now - start)),$left"
      [ "$left" -eq 0 ] && break
      [ $((now - start)) -gt 300000 ] && break
      sleep 0.1
    done
  } >"$RAW/pipeline-$batch.csv"
  wait_http "http://127.0.0.1:$ADMIN_PORT/health/ready"
}
pipeline 500
pipeline 5000
fi
stop_gateway

# ---- microbenchmarks
if [ "${SKIP_JMH:-0}" != 1 ] && [ -f "$JAR_JMH" ]; then
  log "JMH microbenchmarks (core $SERVER_CPU, servers idle)"
  on_server java -jar "$JAR_JMH" -f 1 -wi 3 -w 1s -i 5 -r 1s -rf json -rff "$RAW/jmh.json" >"$RAW/jmh.txt" 2>&1
fi

echo "load average after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/meta.txt"
cp "$WORK/gateway.log" "$RAW/gateway.log"
log "report"
java -cp "$JAR_STUB" io.tollgate.loadtests.report.BenchReport "$RAW" "$RESULTS/$RESULTS_NAME.md"
