#!/usr/bin/env bash
# The framework's ceiling, measured beside Tollgate in one run (issue 18): max throughput (closed
# loop) of the stub called directly, nginx, a bare Vert.x core proxy, vertx-http-proxy with no
# interceptors (BareProxyMain), Tollgate pass-through and Tollgate fully metered — every server on
# core $SERVER_CPU, the load driver on core $DRIVER_CPU — in $ROUNDS interleaved rounds, with the
# CPU each server process used per request and, for the metered runs, the usage events admitted
# against the rows in Postgres. Writes load-tests/results/<RESULTS_NAME>.md and its raw folder.
#
#   load-tests/ceiling.sh                       # from the repository root, jars built (mvn install -DskipTests)
#
# Tunables: ROUNDS (2), DURATION (10), WARMUP (5, per run), WARMUP_ALL (30, JIT warm-up per target,
# not recorded), CONNECTIONS (64), SERVER_CPU (1), DRIVER_CPU (0), REDIS_DB (3, flushed),
# JAR_GATEWAY (gateway/target/tollgate.jar), RESULTS_NAME (<date>-ceiling), JAR_GATEWAY_B (a second
# gateway build: started beside the first on ports 19082/19083, same Redis and database, and measured
# as targets pass-b and metered-b in every round, for a before/after comparison in the same run).
# Needs what bench.sh needs: JDK 17, a local Redis and PostgreSQL, nginx, taskset, curl.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-2} DURATION=${DURATION:-10} WARMUP=${WARMUP:-5} WARMUP_ALL=${WARMUP_ALL:-30} CONNECTIONS=${CONNECTIONS:-64}
SERVER_CPU=${SERVER_CPU:-1} DRIVER_CPU=${DRIVER_CPU:-0} REDIS_DB=${REDIS_DB:-3}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=tollgate_bench
RESULTS_NAME=${RESULTS_NAME:-$(date -u +%Y-%m-%d)-ceiling}
RAW=$ROOT/load-tests/results/$RESULTS_NAME
JAR_STUB=$ROOT/load-tests/target/stub-upstream.jar
JAR_GATEWAY=${JAR_GATEWAY:-$ROOT/gateway/target/tollgate.jar}
CONFIG=$ROOT/load-tests/bench/tollgate-bench.yaml
WORK=$(mktemp -d /tmp/tollgate-ceiling.XXXXXX)
export TOLLGATE_ADMIN_TOKEN=bench-admin-token REDIS_URL=redis://127.0.0.1:6379/$REDIS_DB
export DATABASE_URL=postgresql://$PGUSER@$PGHOST:$PGPORT/$DB TOLLGATE_DATA_DIR=$WORK/data
ADMIN=http://127.0.0.1:19081
COMMAND="ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP WARMUP_ALL=$WARMUP_ALL CONNECTIONS=$CONNECTIONS SERVER_CPU=$SERVER_CPU DRIVER_CPU=$DRIVER_CPU load-tests/ceiling.sh"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
# log, die, wait_http, cpu_ticks, admitted, usage_rows
. "$ROOT/load-tests/lib.sh"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
taskset -p -c "$DRIVER_CPU" $$ >/dev/null
[ -f "$JAR_STUB" ] && [ -f "$JAR_GATEWAY" ] || { log "build the jars first (mvn install -DskipTests)"; exit 1; }
command -v nginx >/dev/null || { log "nginx is required (apt-get install nginx)"; exit 1; }
spawn() { taskset -c "$SERVER_CPU" "$@" & PIDS+=($!); }
driver() { taskset -c "$DRIVER_CPU" java -Xms512m -Xmx512m -cp "$JAR_STUB" io.tollgate.loadtests.driver.LoadDriverMain "$@" 2>/dev/null; }

rm -rf "$RAW" && mkdir -p "$RAW"
psql -d postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null 2>&1
redis-cli -n "$REDIS_DB" FLUSHDB >/dev/null
REDIS_PID=$(redis-cli info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
PM=$(head -1 "$(psql -d postgres -Atqc 'SHOW data_directory')/postmaster.pid")
spawn java -Xms512m -Xmx512m -jar "$JAR_STUB" --port 19100 >"$WORK/stub.log" 2>&1; STUB=$!
sed "s#@WORK@#$WORK#g" load-tests/bench/nginx.conf.template >"$WORK/nginx.conf"
spawn nginx -p "$WORK" -c "$WORK/nginx.conf"; NGINX=$!
spawn java -Xms1g -Xmx1g -cp "$JAR_STUB" io.tollgate.loadtests.ceiling.BareProxyMain --mode core --port 19090 >"$WORK/core.log" 2>&1; CORE=$!
spawn java -Xms1g -Xmx1g -cp "$JAR_STUB" io.tollgate.loadtests.ceiling.BareProxyMain --mode http-proxy --port 19091 >"$WORK/hp.log" 2>&1; HP=$!
spawn java -Xms1g -Xmx1g -jar "$JAR_GATEWAY" --config "$CONFIG" >"$WORK/gateway.log" 2>&1; GATEWAY=$!
GATEWAY_B=
if [ -n "${JAR_GATEWAY_B:-}" ]; then
  sed -e 's/port: 19080/port: 19082/' -e 's/adminPort: 19081/adminPort: 19083/' "$CONFIG" >"$WORK/gateway-b.yaml"
  TOLLGATE_DATA_DIR=$WORK/data-b spawn java -Xms1g -Xmx1g -jar "$JAR_GATEWAY_B" --config "$WORK/gateway-b.yaml" >"$WORK/gateway-b.log" 2>&1
  GATEWAY_B=$!
  wait_http http://127.0.0.1:19083/health/ready
fi
for u in http://127.0.0.1:19100/v1/models http://127.0.0.1:19180/v1/models http://127.0.0.1:19090/v1/models \
  http://127.0.0.1:19091/v1/models $ADMIN/health/ready; do wait_http "$u"; done
# Redis and PostgreSQL (and new backends, which inherit it) on the server core too.
for p in $REDIS_PID $PM $(pgrep -P "$PM"); do taskset -a -p -c "$SERVER_CPU" "$p" >/dev/null; done
taskset -c "$DRIVER_CPU" java -cp "$JAR_STUB" io.tollgate.loadtests.driver.BenchSetup --admin "$ADMIN" --accounts 1 \
  --keys-per-account 1 --plan bench --name main --out "$WORK/main.keys" >/dev/null 2>&1

TARGETS="direct nginx core http-proxy pass metered"
if [ -n "$GATEWAY_B" ]; then TARGETS="$TARGETS pass-b metered-b"; fi
url() { case $1 in direct) echo http://127.0.0.1:19100/v1/chat/completions ;; nginx) echo http://127.0.0.1:19180/v1/chat/completions ;;
  core) echo http://127.0.0.1:19090/v1/chat/completions ;; http-proxy) echo http://127.0.0.1:19091/v1/chat/completions ;;
  pass) echo http://127.0.0.1:19080/pass/v1/chat/completions ;; metered) echo http://127.0.0.1:19080/v1/chat/completions ;;
  pass-b) echo http://127.0.0.1:19082/pass/v1/chat/completions ;; metered-b) echo http://127.0.0.1:19082/v1/chat/completions ;; esac; }
proxy_pid() { case $1 in direct) echo "" ;; nginx) echo "$NGINX $(pgrep -P "$NGINX" | tr '\n' ' ')" ;; core) echo $CORE ;;
  http-proxy) echo $HP ;; pass-b|metered-b) echo "$GATEWAY_B" ;; *) echo $GATEWAY ;; esac; }
keys() { case $1 in metered*) echo "--keys $WORK/main.keys" ;; esac; }
admin_of() { case $1 in *-b) echo http://127.0.0.1:19083 ;; *) echo "$ADMIN" ;; esac; }
{
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "command=$COMMAND"
  echo "git commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc --all) cores"; echo "kernel=$(uname -r)"
  echo "JDK=$(java -version 2>&1 | head -2 | tail -1)"; echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
  echo "placement=core $SERVER_CPU: stub (1 event loop), nginx (1 worker), bare core proxy, bare http-proxy, Tollgate (each 1 event loop), Redis, PostgreSQL; core $DRIVER_CPU: load driver"
  echo "gateway=$JAR_GATEWAY ($(sha256sum "$JAR_GATEWAY" | cut -c1-12))"
  if [ -n "$GATEWAY_B" ]; then echo "gateway B=$JAR_GATEWAY_B ($(sha256sum "$JAR_GATEWAY_B" | cut -c1-12)), ports 19082/19083"; fi
  echo "load average at start=$LOAD_AT_START"
} >"$RAW/meta.txt"

log "JIT warm-up, $WARMUP_ALL s per target (not recorded)"
for t in $TARGETS; do
  # shellcheck disable=SC2046
  driver --name "warm-$t" --url "$(url "$t")" $(keys "$t") --warmup-s "$WARMUP_ALL" --duration-s 1 --connections "$CONNECTIONS" >/dev/null
done
echo "round target requests req_per_s p50_ms p99_ms proxy_cpu_s stub_cpu_s redis_cpu_s postgres_cpu_s admitted rows" >"$RAW/runs.txt"
for r in $(seq 1 "$ROUNDS"); do
  for t in $TARGETS; do
    a0=0; r0=0; case $t in metered*) a0=$(admitted "$(admin_of "$t")"); r0=$(usage_rows "$DB") ;; esac
    # shellcheck disable=SC2046
    pp=$(proxy_pid "$t")
    ( sleep "$WARMUP"; echo "$(cpu_ticks $pp) $(cpu_ticks $STUB) $(cpu_ticks $REDIS_PID) $(cpu_ticks $PM $(pgrep -P "$PM"))" >"$WORK/c0"
      sleep "$DURATION"; echo "$(cpu_ticks $pp) $(cpu_ticks $STUB) $(cpu_ticks $REDIS_PID) $(cpu_ticks $PM $(pgrep -P "$PM"))" >"$WORK/c1" ) &
    cpu=$!
    # shellcheck disable=SC2046
    driver --name "r$r-$t" --out "$RAW" --url "$(url "$t")" $(keys "$t") --rate 0 --connections "$CONNECTIONS" \
      --warmup-s "$WARMUP" --duration-s "$DURATION" >"$WORK/out.txt"
    wait "$cpu"
    adm=-; got=-
    if [ "${t#metered}" != "$t" ]; then
      a1=$(admitted "$(admin_of "$t")"); adm=$((a1 - a0))
      for _ in $(seq 1 300); do got=$(($(usage_rows "$DB") - r0)); [ "$got" -ge "$adm" ] && break; sleep 0.1; done
    fi
    read -r n rps <<<"$(awk '/requests/ {print $2, $4}' "$WORK/out.txt" | tr -d ',')"
    read -r p50 p99 <<<"$(awk '/latency/ {print $4, $8}' "$WORK/out.txt")"
    read -r c0p c0s c0r c0g <"$WORK/c0"; read -r c1p c1s c1r c1g <"$WORK/c1"
    hz=$(getconf CLK_TCK)
    line="$r $t $n $rps $p50 $p99 $(awk -v a="$c0p" -v b="$c1p" -v h="$hz" 'BEGIN{printf "%.2f", (b-a)/h}') \
$(awk -v a="$c0s" -v b="$c1s" -v h="$hz" 'BEGIN{printf "%.2f", (b-a)/h}') $(awk -v a="$c0r" -v b="$c1r" -v h="$hz" 'BEGIN{printf "%.2f", (b-a)/h}') \
$(awk -v a="$c0g" -v b="$c1g" -v h="$hz" 'BEGIN{printf "%.2f", (b-a)/h}') $adm $got"
    echo "$line" >>"$RAW/runs.txt"
    log "round $r $t: $rps req/s"
  done
done
echo "load average after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/meta.txt"

# ---- report: per round, req/s as a share of nginx's in the same round, and CPU per request of the proxy process
{
  echo "# Framework ceiling: Tollgate against bare Vert.x proxies and nginx ($RESULTS_NAME)"
  echo
  echo "Command: \`$COMMAND\`${JAR_GATEWAY_B:+ with JAR_GATEWAY_B=$JAR_GATEWAY_B} (gateway jar \`${JAR_GATEWAY#"$ROOT"/}\`). Machine and placement: [\`meta.txt\`]($RESULTS_NAME/meta.txt); raw rows: [\`runs.txt\`]($RESULTS_NAME/runs.txt)."
  echo
  echo "Max throughput, closed loop, $CONNECTIONS connections, ${DURATION} s measured after ${WARMUP} s; rounds interleave the targets. CPU µs/req is the"
  echo "proxy process' own CPU (user + system) over the measured window divided by the requests it served in it (for metered: the gateway alone; Redis and PostgreSQL in their own columns)."
  echo
  echo "| round | target | req/s | × nginx | × bare core | p50 ms | p99 ms | proxy CPU µs/req | Redis CPU µs/req | Postgres CPU µs/req | usage events admitted / in Postgres |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  awk -v d="$DURATION" 'NR > 1 { key = $1 " " $2; rps[key] = $4; line[NR] = $0 }
    END { for (i = 2; i <= NR; i++) { split(line[i], f, " "); r = f[1]; t = f[2]
      ng = rps[r " nginx"]; co = rps[r " core"]; n = f[4] * d
      printf "| %s | %s | %.0f | %.2f | %s | %s | %s | %s | %s | %s | %s |\n", r, t, f[4], f[4] / ng,
        (t == "direct" || t == "nginx") ? "—" : sprintf("%.2f", f[4] / co), f[5], f[6],
        t == "direct" ? "—" : sprintf("%.0f", f[7] * 1e6 / n),
        t ~ /^metered/ ? sprintf("%.0f", f[9] * 1e6 / n) : "—", t ~ /^metered/ ? sprintf("%.0f", f[10] * 1e6 / n) : "—",
        t ~ /^metered/ ? f[11] " / " f[12] : "—" } }' "$RAW/runs.txt"
} >"$ROOT/load-tests/results/$RESULTS_NAME.md"
log "wrote load-tests/results/$RESULTS_NAME.md"
