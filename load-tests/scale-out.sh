#!/usr/bin/env bash
# Scale-out on one machine (issue 18, part 3): 1, 2, 3 … gateway instances behind nginx as the load
# balancer, all on one Redis Cluster (three masters, a replica each) and one PostgreSQL, driven at
# max throughput with many accounts' keys. Reports aggregate req/s per instance count, the CPU each
# kind of process used, and the exactly-once count over the whole run (admitted by every instance
# = 2xx at the driver = rows in Postgres once the streams drained).
#
#   load-tests/scale-out.sh                  # INSTANCES="1 2 3"
#
# Tunables: INSTANCES ("1 2 3"), DURATION (15 s measured), WARMUP (30 s per instance count, not
# measured: JIT), CONNECTIONS (128), ACCOUNTS (64, one key each, spread over the 16 shards), CPUS
# (0-1: every process shares them; the machine has 2 cores), REDIS_BASE_PORT (7100), RESULTS_NAME,
# CONFIG (the gateways' configuration; default load-tests/bench/tollgate-bench.yaml).
# Needs: java, redis-server and redis-cli (7.x), nginx, psql against a local PostgreSQL as in
# bench.sh, and the built jars (mvn -B -ntp -q install -DskipTests).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
INSTANCES=${INSTANCES:-"1 2 3"}
DURATION=${DURATION:-15} WARMUP=${WARMUP:-30} CONNECTIONS=${CONNECTIONS:-128} ACCOUNTS=${ACCOUNTS:-64}
CPUS=${CPUS:-0-1} REDIS_BASE_PORT=${REDIS_BASE_PORT:-7100}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=tollgate_scale
DATE=$(date -u +%Y-%m-%d)
RESULTS_NAME=${RESULTS_NAME:-$DATE-scale-out}
RAW=$ROOT/load-tests/results/$RESULTS_NAME
WORK=$(mktemp -d /tmp/tollgate-scale.XXXXXX)
JAR_STUB=$ROOT/load-tests/target/stub-upstream.jar
JAR_GATEWAY=${JAR_GATEWAY:-$ROOT/gateway/target/tollgate.jar}
CONFIG=${CONFIG:-$ROOT/load-tests/bench/tollgate-bench.yaml}
LB_PORT=19280 STUB_PORT=19100
export TOLLGATE_ADMIN_TOKEN=bench-admin-token
export DATABASE_URL=postgresql://$PGUSER@$PGHOST:$PGPORT/$DB
export REDIS_MODE=cluster
REDIS_URL=""
for i in 0 1 2; do REDIS_URL="$REDIS_URL${REDIS_URL:+,}redis://127.0.0.1:$((REDIS_BASE_PORT + i))"; done
export REDIS_URL
COMMAND="CONFIG=$CONFIG INSTANCES=\"$INSTANCES\" DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS ACCOUNTS=$ACCOUNTS CPUS=$CPUS load-tests/scale-out.sh"

# log, die, wait_http, cpu_ticks, admitted, usage_rows
. "$ROOT/load-tests/lib.sh"
PIDS=()
GATEWAYS=()
cleanup() {
  for p in "${GATEWAYS[@]}" "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${GATEWAYS[@]}" "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
# Background servers are started as `taskset … &` directly (not through a shell function), so $!
# is the server's own PID (taskset execs it): what kill and the CPU accounting need.
on_cpus() { taskset -c "$CPUS" "$@"; }
for tool in java psql redis-server redis-cli nginx curl taskset; do command -v "$tool" >/dev/null || die "$tool is required"; done
[ -f "$JAR_STUB" ] && [ -f "$JAR_GATEWAY" ] || die "build the jars first (mvn -B -ntp -q install -DskipTests)"
rm -rf "$RAW" && mkdir -p "$RAW"

# ---- Redis Cluster: three masters, a replica each, nothing on disk
log "Redis Cluster on ports $REDIS_BASE_PORT-$((REDIS_BASE_PORT + 5))"
NODES=()
for i in 0 1 2 3 4 5; do
  port=$((REDIS_BASE_PORT + i))
  mkdir -p "$WORK/redis-$port"
  taskset -c "$CPUS" redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$WORK/redis-$port/nodes.conf" \
    --cluster-node-timeout 2000 --save "" --appendonly no --dir "$WORK/redis-$port" --daemonize no >"$WORK/redis-$port.log" 2>&1 &
  PIDS+=($!)
  NODES+=("127.0.0.1:$port")
done
for i in 0 1 2 3 4 5; do
  for _ in $(seq 1 100); do redis-cli -p $((REDIS_BASE_PORT + i)) ping >/dev/null 2>&1 && break; sleep 0.1; done
done
redis-cli --cluster create "${NODES[@]}" --cluster-replicas 1 --cluster-yes >"$WORK/cluster-create.log" 2>&1 \
  || die "redis-cli --cluster create failed: $(tail -3 "$WORK/cluster-create.log")"
for _ in $(seq 1 100); do
  redis-cli -p "$REDIS_BASE_PORT" cluster info | grep -q 'cluster_state:ok' && break
  sleep 0.2
done
redis-cli -p "$REDIS_BASE_PORT" cluster info | grep -q 'cluster_state:ok' || die "the cluster did not become ok"

log "fresh database $DB"
psql -d postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null

log "stub upstream on :$STUB_PORT"
taskset -c "$CPUS" java -Xms512m -Xmx512m -jar "$JAR_STUB" --port "$STUB_PORT" >"$WORK/stub.log" 2>&1 &
STUB_PID=$!
PIDS+=("$STUB_PID")
wait_http "http://127.0.0.1:$STUB_PORT/v1/models"

proxy_port() { echo $((19300 + 10 * $1)); }
admin_port() { echo $((19301 + 10 * $1)); }
start_gateway() { # INDEX
  local i=$1
  TOLLGATE_PROXY_PORT=$(proxy_port "$i") TOLLGATE_ADMIN_PORT=$(admin_port "$i") TOLLGATE_DATA_DIR=$WORK/data-$i \
    taskset -c "$CPUS" java -Xms512m -Xmx512m -jar "$JAR_GATEWAY" --config "$CONFIG" >"$WORK/gateway-$i.log" 2>&1 &
  GATEWAYS+=($!)
  wait_http "http://127.0.0.1:$(admin_port "$i")/health/ready"
}
start_lb() { # N
  local n=$1 servers="" i
  for i in $(seq 1 "$n"); do servers="$servers    server 127.0.0.1:$(proxy_port "$i");"$'\n'; done
  cat >"$WORK/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  upstream tollgate {
$servers    keepalive 512;
  }
  server {
    listen 127.0.0.1:$LB_PORT reuseport backlog=4096;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://tollgate;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
NGINX
  taskset -c "$CPUS" nginx -p "$WORK" -c "$WORK/nginx.conf" &
  LB_PID=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$LB_PORT/" && break; sleep 0.1; done
}
stop_lb() { kill "$LB_PID" 2>/dev/null || true; wait "$LB_PID" 2>/dev/null || true; }

allowed_total() {
  local t=0 i
  for i in $(seq 1 "${#GATEWAYS[@]}"); do
    t=$((t + $(admitted "http://127.0.0.1:$(admin_port "$i")")))
  done
  echo "$t"
}
evalsha_calls() {
  local t=0 p
  for p in $(seq "$REDIS_BASE_PORT" $((REDIS_BASE_PORT + 5))); do
    t=$((t + $(redis-cli -p "$p" info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p' | tr -d '\r' | awk '{s+=$1} END {print s+0}')))
  done
  echo "$t"
}
backlog() {
  local t=0 s
  for s in $(seq 0 15); do t=$((t + $(redis-cli -c -p "$REDIS_BASE_PORT" XLEN "tg:{s$s}:usage"))); done
  echo "$t"
}
pm_pids() { local pm; pm=$(head -1 "$(psql -d postgres -Atqc 'SHOW data_directory')/postmaster.pid"); echo "$pm" $(pgrep -P "$pm"); }
redis_pids() { local p; for p in "${PIDS[@]}"; do case $(cat "/proc/$p/comm" 2>/dev/null) in redis-server) echo "$p";; esac; done; }
# The nodes by role now (replicas replay every write their master takes).
redis_role_pids() { # master | slave
  local i port
  for i in 0 1 2 3 4 5; do
    port=$((REDIS_BASE_PORT + i))
    if redis-cli -p "$port" role | head -1 | grep -qx "$1"; then
      redis-cli -p "$port" info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p' | tr -d '\r'
    fi
  done
}

{
  echo "date=$DATE"
  echo "command=$COMMAND"
  echo "git commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc --all) cores"
  echo "kernel=$(uname -r)"
  echo "JDK=$(java -version 2>&1 | head -2 | tail -1)"
  echo "Redis=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
  echo "PostgreSQL=$(psql -d postgres -Atqc 'SHOW server_version')"
  echo "placement=every process on CPUs $CPUS: driver (1 event loop), nginx load balancer (1 worker), the gateways (1 event loop each, -Xms512m -Xmx512m), 6 Redis Cluster nodes, PostgreSQL, stub upstream"
} >"$RAW/meta.txt"

printf 'instances\treq_per_s\tp50_ms\tp99_ms\terrors\tadmitted\tdriver_2xx\trows\tlost\tgateways_cpu_s\tredis_cpu_s\tpostgres_cpu_s\tnginx_cpu_s\tstub_cpu_s\twall_s\tredis_masters_cpu_s\tevalsha_calls\n' >"$RAW/scale.tsv"
STARTED=0
for n in $INSTANCES; do
  while [ "$STARTED" -lt "$n" ]; do
    STARTED=$((STARTED + 1))
    log "starting gateway $STARTED"
    start_gateway "$STARTED"
    if [ "$STARTED" = 1 ]; then
      java -cp "$JAR_STUB" io.tollgate.loadtests.driver.BenchSetup --admin "http://127.0.0.1:$(admin_port 1)" --accounts "$ACCOUNTS" \
        --keys-per-account 1 --plan bench --name scale --out "$WORK/keys.txt" >/dev/null
    fi
  done
  start_lb "$n"
  log "$n instance(s): warm-up ${WARMUP} s"
  on_cpus java -Xms512m -Xmx512m -cp "$JAR_STUB" io.tollgate.loadtests.driver.LoadDriverMain --name "warmup-$n" \
    --url "http://127.0.0.1:$LB_PORT/v1/chat/completions" --keys "$WORK/keys.txt" --rate 0 --connections "$CONNECTIONS" \
    --warmup-s "$WARMUP" --duration-s 1 >/dev/null
  for _ in $(seq 1 300); do [ "$(backlog)" -eq 0 ] && break; sleep 0.1; done
  a0=$(allowed_total); r0=$(usage_rows "$DB")
  m0=$(cpu_ticks $(redis_role_pids master)); e0=$(evalsha_calls)
  # shellcheck disable=SC2046
  c0="$(cpu_ticks "${GATEWAYS[@]}") $(cpu_ticks $(redis_pids)) $(cpu_ticks $(pm_pids)) $(cpu_ticks "$LB_PID" $(pgrep -P "$LB_PID")) $(cpu_ticks "$STUB_PID") $(date +%s%3N)"
  log "$n instance(s): measuring ${DURATION} s"
  on_cpus java -Xms512m -Xmx512m -cp "$JAR_STUB" io.tollgate.loadtests.driver.LoadDriverMain --name "scale-$n" --out "$RAW" \
    --url "http://127.0.0.1:$LB_PORT/v1/chat/completions" --keys "$WORK/keys.txt" --rate 0 --connections "$CONNECTIONS" \
    --warmup-s 0 --duration-s "$DURATION" >"$RAW/scale-$n.txt"
  # shellcheck disable=SC2046
  c1="$(cpu_ticks "${GATEWAYS[@]}") $(cpu_ticks $(redis_pids)) $(cpu_ticks $(pm_pids)) $(cpu_ticks "$LB_PID" $(pgrep -P "$LB_PID")) $(cpu_ticks "$STUB_PID") $(date +%s%3N)"
  a1=$(allowed_total)
  m1=$(cpu_ticks $(redis_role_pids master)); e1=$(evalsha_calls)
  for _ in $(seq 1 600); do
    r1=$(usage_rows "$DB")
    [ "$((r1 - r0))" -ge "$((a1 - a0))" ] && [ "$(backlog)" -eq 0 ] && break
    sleep 0.1
  done
  r1=$(usage_rows "$DB")
  reqs=$(sed -n 's/.*requests \([0-9]*\), throughput \([0-9.]*\) req\/s.*/\1 \2/p' "$RAW/scale-$n.txt")
  lat=$(sed -n 's/.*p50 \([0-9.]*\) *p90 [0-9.]* *p99 \([0-9.]*\).*/\1 \2/p' "$RAW/scale-$n.txt" | head -1)
  ok=$(sed -n 's/.*responses .*200=\([0-9]*\).*/\1/p' "$RAW/scale-$n.txt")
  errs=$(sed -n 's/^ *errors \(.*\)$/\1/p' "$RAW/scale-$n.txt")
  hz=$(getconf CLK_TCK)
  # shellcheck disable=SC2086
  set -- $c0 $c1
  cpu=$(awk -v hz="$hz" -v a="$*" 'BEGIN { split(a, v, " ");
      printf "%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f", (v[7]-v[1])/hz, (v[8]-v[2])/hz, (v[9]-v[3])/hz, (v[10]-v[4])/hz, (v[11]-v[5])/hz, (v[12]-v[6])/1000 }')
  # shellcheck disable=SC2086
  set -- $reqs $lat
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$2" "$3" "$4" "${errs:-?}" "$((a1 - a0))" "${ok:-0}" "$((r1 - r0))" \
    "$((a1 - a0 - (r1 - r0)))" "$cpu" "$(awk -v t=$((m1 - m0)) -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}')" "$((e1 - e0))" >>"$RAW/scale.tsv"
  log "$n instance(s): $2 req/s, admitted $((a1 - a0)), 2xx ${ok:-0}, rows $((r1 - r0))"
  stop_lb
done
column -t -s$'\t' "$RAW/scale.tsv"
