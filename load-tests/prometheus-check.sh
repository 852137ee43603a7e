#!/usr/bin/env bash
# End-to-end check of the Prometheus kit (deploy/prometheus) against a real Tollgate:
#   1. starts the stub upstream and Tollgate on its embedded default (embedded Redis and
#      Postgres under a temp dir) with a config routing /v1/ to the stub;
#   2. creates three accounts and their API keys through the admin API (one with ample credits,
#      one with 20 credits, so that usage alerts and "no credits" refusals happen too, and one
#      postpaid account linked to a Stripe customer, so that Stripe meter sync has usage to send);
#   3. starts a real Prometheus scraping Tollgate's admin port with deploy/prometheus/alerts.yml;
#   4. drives traffic with curl (plain, streamed, upstream 5xx and resets, bad keys) for --seconds,
#      and posts Stripe webhook deliveries signed with a test secret (one stored, its redelivery,
#      one with a bad signature);
#   5. asserts through the Prometheus HTTP API that the request rate, the gateway overhead p99 and
#      the usage stream backlog can be queried, that every alert rule loaded and evaluates without
#      error, and that every metric the dashboard and the alert rules name exists.
# Stripe meter sync runs with a dummy key against a local port where nothing listens: Stripe is
# "down" on purpose, so the sync's failure, retry, breaker and lag metrics appear without a Stripe
# account. Everything runs on 127.0.0.1 with free ports; all processes are stopped on exit.
#
#   load-tests/prometheus-check.sh [--seconds 40] [--keep]     (--keep: leave the temp dir for reading)
#
# Builds nothing: needs gateway/target/tollgate.jar and load-tests/target/stub-upstream.jar
# (mvn -B -ntp -q install -DskipTests). Installs Debian's prometheus package if prometheus or
# promtool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TRAFFIC_SECONDS=40
KEEP=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) TRAFFIC_SECONDS=$2; shift 2 ;;
    --keep) KEEP=true; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

GATEWAY_JAR=$ROOT/gateway/target/tollgate.jar
STUB_JAR=$ROOT/load-tests/target/stub-upstream.jar
RULES=$ROOT/deploy/prometheus/alerts.yml
DASHBOARD=$ROOT/deploy/grafana/tollgate.json

log() { printf '[prometheus-check] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for jar in "$GATEWAY_JAR" "$STUB_JAR"; do
  [[ -f $jar ]] || die "$jar is missing: build first with  mvn -B -ntp -q install -DskipTests"
done
for tool in java curl python3; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  log "installing Debian's prometheus package (prometheus and promtool)"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq prometheus >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-prometheus-check.XXXXXX")
# Embedded PostgreSQL runs as "nobody" when Tollgate runs as root: it must be able to enter the dir.
chmod 755 "$WORK"
PIDS=()
TOLLGATE_PID=""
OK=false

cleanup() {
  local status=$?
  set +e
  # Tollgate first, with SIGTERM, so it stops its embedded Redis and Postgres itself.
  if [[ -n $TOLLGATE_PID ]] && kill -0 "$TOLLGATE_PID" 2>/dev/null; then
    local children
    children=$(pgrep -P "$TOLLGATE_PID" || true)
    kill -TERM "$TOLLGATE_PID" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$TOLLGATE_PID" 2>/dev/null || break; sleep 1; done
    if kill -0 "$TOLLGATE_PID" 2>/dev/null; then
      log "Tollgate did not stop within 60 s: killing it and its embedded servers"
      kill -KILL "$TOLLGATE_PID" $children 2>/dev/null
      if [[ -f $WORK/data/postgres/postmaster.pid ]]; then
        kill -TERM "$(head -1 "$WORK/data/postgres/postmaster.pid")" 2>/dev/null
      fi
    fi
  fi
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
  done
  if [[ $OK == true && $KEEP == false ]]; then
    rm -rf "$WORK"
  else
    log "logs and data kept in $WORK"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # wait_for SECONDS PID URL [any] — until URL answers 2xx (any status with "any"), or the process died
  local deadline=$((SECONDS + $1)) pid=$2 url=$3 fail_flag=-f
  [[ ${4:-} == any ]] && fail_flag=""
  until curl -s $fail_flag -o /dev/null "$url"; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

json_field() { # json_field FIELD < json
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

STUB_PORT=$(free_port)
PROXY_PORT=$(free_port)
ADMIN_PORT=$(free_port)
PROM_PORT=$(free_port)
STRIPE_DOWN_PORT=$(free_port) # nothing listens here
ADMIN_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
WEBHOOK_SECRET=whsec_check_$(python3 -c 'import secrets; print(secrets.token_hex(16))')
PROXY=http://127.0.0.1:$PROXY_PORT
ADMIN=http://127.0.0.1:$ADMIN_PORT
PROM=http://127.0.0.1:$PROM_PORT

log "work dir $WORK; stub :$STUB_PORT, proxy :$PROXY_PORT, admin :$ADMIN_PORT, prometheus :$PROM_PORT"

# ---- stub upstream
java -jar "$STUB_JAR" --port "$STUB_PORT" >"$WORK/stub.log" 2>&1 &
PIDS+=($!)
STUB_PID=$!

# ---- Tollgate, embedded default
cat >"$WORK/tollgate.yaml" <<EOF
server: { host: 127.0.0.1, port: $PROXY_PORT, adminPort: $ADMIN_PORT, shutdownGraceSeconds: 5 }
dataDir: $WORK/data
routes:
  - prefix: /v1/
    upstream: http://127.0.0.1:$STUB_PORT/v1/
    usage: openai
# Priced so that a request costs whole credits (a few hundred stub tokens at 100,000 credits per 1M
# tokens): the 20-credit account runs out within seconds and the postpaid account's usage reaches
# Stripe's whole-credit meter (exact pricing would leave both at fractions of a credit).
pricing:
  models: { gpt-4o-mini: { input: 100000, output: 100000 } }
  default: { input: 100000, output: 100000 }
plans:
  free: { requestsPerMinute: 60, tokensPerMinute: 40000, includedCredits: 100000 }
  load: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 100000000 }
  tiny: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 20 }
stripe:
  apiBase: http://127.0.0.1:$STRIPE_DOWN_PORT
  meterEventsBase: http://127.0.0.1:$STRIPE_DOWN_PORT
  meterId: mtr_prometheus_check
  syncIntervalMs: 1000
EOF
# The embedded default even if the caller's shell points at real servers or Stripe. The Stripe
# key is a dummy (its calls go to the dead port above) and the webhook secret is this run's own:
# no Stripe account is involved, the check signs its own deliveries.
env -u REDIS_URL -u DATABASE_URL -u TOLLGATE_CONFIG \
  TOLLGATE_ADMIN_TOKEN="$ADMIN_TOKEN" TOLLGATE_DATA_DIR="$WORK/data" STRIPE_WEBHOOK_SECRET="$WEBHOOK_SECRET" \
  STRIPE_API_KEY=sk_test_prometheus_check_not_a_real_key \
  java -jar "$GATEWAY_JAR" --config "$WORK/tollgate.yaml" >"$WORK/tollgate.log" 2>&1 &
TOLLGATE_PID=$!

wait_for 30 "$STUB_PID" "http://127.0.0.1:$STUB_PORT/" any \
  || { tail -20 "$WORK/stub.log" >&2; die "the stub upstream did not start"; }
log "starting Tollgate (embedded Redis and Postgres; the first start takes a few seconds)"
wait_for 180 "$TOLLGATE_PID" "$ADMIN/health/ready" \
  || { tail -40 "$WORK/tollgate.log" >&2; die "Tollgate did not become ready"; }
log "Tollgate is ready"

# ---- accounts and keys through the admin API
admin_post() { # admin_post PATH JSON
  curl -sf "$ADMIN$1" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' -d "$2" \
    || die "admin API call POST $1 failed"
}
LOAD_ACCOUNT=$(admin_post /admin/v1/accounts '{"name":"prometheus-check","plan":"load"}' | json_field id)
LOAD_KEY=$(admin_post "/admin/v1/accounts/$LOAD_ACCOUNT/keys" '{"name":"prometheus-check"}' | json_field key)
TINY_ACCOUNT=$(admin_post /admin/v1/accounts '{"name":"prometheus-check-tiny","plan":"tiny"}' | json_field id)
TINY_KEY=$(admin_post "/admin/v1/accounts/$TINY_ACCOUNT/keys" '{"name":"prometheus-check"}' | json_field key)
METERED_ACCOUNT=$(admin_post /admin/v1/accounts '{"name":"prometheus-check-postpaid","plan":"load","billingMode":"postpaid"}' | json_field id)
curl -sf -X PATCH "$ADMIN/admin/v1/accounts/$METERED_ACCOUNT" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'content-type: application/json' -d '{"stripeCustomerId":"cus_prometheuscheck"}' >/dev/null \
  || die "admin API call PATCH /admin/v1/accounts/$METERED_ACCOUNT failed"
METERED_KEY=$(admin_post "/admin/v1/accounts/$METERED_ACCOUNT/keys" '{"name":"prometheus-check"}' | json_field key)
log "accounts $LOAD_ACCOUNT (ample credits), $TINY_ACCOUNT (20 credits) and $METERED_ACCOUNT (postpaid, Stripe customer) with one key each"

# ---- Stripe webhook deliveries, signed as Stripe signs them (HMAC-SHA256 of "<t>.<body>")
webhook() { # webhook BODY SECRET -> prints the status code
  local t sig
  t=$(date +%s)
  sig=$(printf '%s.%s' "$t" "$1" | openssl dgst -sha256 -hmac "$2" -hex | sed 's/^.* //')
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -X POST "$PROXY/webhooks/stripe" \
    -H "Stripe-Signature: t=$t,v1=$sig" -H 'content-type: application/json' -d "$1"
}
command -v openssl >/dev/null || die "openssl is required (to sign the test webhook deliveries)"
EVENT_BODY='{"id":"evt_prometheus_check_'$(date +%s)'","object":"event","type":"tollgate.prometheus_check","created":'$(date +%s)',"livemode":false,"data":{"object":{"object":"check"}}}'
WEBHOOK_CODES="$(webhook "$EVENT_BODY" "$WEBHOOK_SECRET") $(webhook "$EVENT_BODY" "$WEBHOOK_SECRET") $(webhook "$EVENT_BODY" whsec_not_the_secret)"
log "webhook deliveries (signed, redelivered, bad signature) answered: $WEBHOOK_CODES (expected 200 200 400)"

# ---- Prometheus with the alert rules
sed -e "s|@TARGET@|127.0.0.1:$ADMIN_PORT|" -e "s|@RULES@|$RULES|" \
  "$ROOT/load-tests/prometheus/prometheus.yml.in" >"$WORK/prometheus.yml"
promtool check config "$WORK/prometheus.yml" >"$WORK/promtool.log" 2>&1 \
  || { cat "$WORK/promtool.log" >&2; die "promtool check config failed"; }
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
PROM_PID=$!
wait_for 60 "$PROM_PID" "$PROM/-/ready" || { tail -20 "$WORK/prometheus.log" >&2; die "Prometheus did not start"; }
log "Prometheus is ready ($(prometheus --version 2>&1 | head -1))"

# ---- traffic
chat() { # chat KEY [extra curl args...] -> prints the status code
  local key=$1
  shift
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 "$PROXY/v1/chat/completions" \
    -H "Authorization: Bearer $key" -H 'content-type: application/json' "$@"
}
BODY='{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"Hello through Tollgate"}]}'
STREAM_BODY='{"model":"gpt-4o-mini","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"Hi"}]}'
log "driving traffic for $TRAFFIC_SECONDS s"
: >"$WORK/codes"
end=$((SECONDS + TRAFFIC_SECONDS))
i=0
while ((SECONDS < end)); do
  i=$((i + 1))
  {
    chat "$LOAD_KEY" -d "$BODY"
    chat "$LOAD_KEY" -d "$BODY"
    if ((i % 3 == 0)); then chat "$LOAD_KEY" -N -d "$STREAM_BODY"; fi
    if ((i % 10 == 0)); then chat "$LOAD_KEY" -H 'x-stub-status: 503' -d "$BODY"; fi
    if ((i % 20 == 5)); then chat "$LOAD_KEY" -H 'x-stub-fail: reset' -d "$BODY"; fi
    # Few enough bad keys to stay under metering.failedAuthPerMinute (30 per client IP).
    if ((i % 40 == 0)); then chat "tg_live_notAKeyAtAll" -d "$BODY"; fi
    if ((i % 2 == 0)); then chat "$TINY_KEY" -d "$BODY"; fi
    if ((i % 4 == 0)); then chat "$METERED_KEY" -d "$BODY"; fi
  } >>"$WORK/codes"
done
log "responses by status: $(sort "$WORK/codes" | uniq -c | awk '{printf "%s×%s ", $2, $1}')"
grep -q '^200$' "$WORK/codes" || die "no request succeeded; see $WORK/tollgate.log"
# Let the usage pipeline flush and Prometheus scrape and evaluate a few more times.
sleep 8

# ---- assertions through the Prometheus HTTP API
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }

query() { # query PROMQL -> first sample's value, or "none"
  curl -sf -G "$PROM/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'
}
expect() { # expect DESCRIPTION PROMQL CONDITION(python, on v)
  local value
  value=$(query "$2") || value="error"
  if [[ $value != none && $value != error ]] && python3 -c "import sys; v = float(sys.argv[1]); sys.exit(0 if ($3) else 1)" "$value"; then
    pass "$1 = $value   [$2]"
  else
    fail "$1: got $value, wanted $3   [$2]"
  fi
}

expect "request rate (responses/s over 1m)" \
  'sum(rate(tollgate_proxy_responses_total[1m]))' 'v > 0'
expect "5xx share" \
  'sum(rate(tollgate_proxy_responses_total{status="5xx"}[1m])) / sum(rate(tollgate_proxy_responses_total[1m]))' '0 < v < 1'
if [[ $(query 'count(tollgate_gateway_overhead_seconds_bucket)') != none ]]; then
  expect "gateway overhead p99 (s)" \
    'histogram_quantile(0.99, sum by (le) (rate(tollgate_gateway_overhead_seconds_bucket[1m])))' '0 < v < 10'
else
  log "NOTE: this build has no tollgate_gateway_overhead_seconds; checking the upstream response time p99 instead"
  expect "upstream response time p99 (s)" \
    'histogram_quantile(0.99, sum by (le) (rate(tollgate_upstream_response_time_seconds_bucket[1m])))' '0 < v < 120'
fi
expect "usage stream backlog (events)" 'max(tollgate_usage_stream_backlog)' 'v >= 0'
expect "usage stream oldest age (s)" 'max(tollgate_usage_stream_oldest_age_seconds)' 'v >= 0'
expect "usage events flushed to Postgres" 'sum(tollgate_usage_events_flushed_total)' 'v > 0'
expect "usage flush batch size p50" \
  'histogram_quantile(0.5, sum by (le) (rate(tollgate_usage_flush_batch_size_bucket[1m])))' 'v >= 1'
expect "admission decisions: allowed (/s)" 'sum(rate(tollgate_admission_decisions_total{decision="allowed"}[1m]))' 'v > 0'
expect "admission decisions: no_credits (total)" 'sum(tollgate_admission_decisions_total{decision="no_credits"})' 'v > 0'
expect "webhook deliveries stored" 'sum(tollgate_stripe_webhooks_received_total{result="stored"})' 'v >= 1'
expect "webhook redeliveries answered as duplicates" 'sum(tollgate_stripe_webhooks_received_total{result="duplicate"})' 'v >= 1'
expect "webhook deliveries refused for a bad signature" \
  'sum(tollgate_stripe_webhooks_received_total{result="refused_bad_signature"})' 'v >= 1'
expect "Stripe webhook events pending (gauge)" 'max(tollgate_stripe_webhook_events{status="pending"})' 'v >= 0'
# Stripe is down on purpose (see the header): usage waits in the outbox and the calls fail.
expect "Stripe meter sync: calls failed (Stripe unreachable on purpose)" 'sum(tollgate_stripe_failures_total)' 'v >= 1'
expect "Stripe meter sync: outbox items waiting" 'max(tollgate_stripe_outbox_pending)' 'v >= 1'
expect "Stripe meter sync: lag (s)" 'max(tollgate_stripe_sync_lag_seconds)' 'v > 0'
expect "Redis admit script p99 (s)" \
  'histogram_quantile(0.99, sum by (le) (rate(tollgate_redis_script_duration_seconds_bucket{script="admit"}[1m])))' '0 < v < 5'

# Every alert rule loaded and evaluated without error.
RULES_REPORT=$(curl -sf "$PROM/api/v1/rules" | python3 -c '
import json, re, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"] if r["type"] == "alerting"]
expected = len(re.findall(r"^\s*- alert:", open(sys.argv[1]).read(), re.M))
bad = [r["name"] + ": " + r.get("lastError", "") for r in rules if r.get("health") != "ok"]
firing = [r["name"] for r in rules if r["state"] == "firing"]
print(len(rules), expected, len(bad), "; ".join(bad) or "-", ",".join(firing) or "none", sep="\t")' "$RULES") \
  || RULES_REPORT=$(printf '0\t?\t1\tapi/v1/rules unreadable\tnone')
IFS=$'\t' read -r loaded expected unhealthy problems firing <<<"$RULES_REPORT"
if [[ $loaded == "$expected" && $unhealthy == 0 ]]; then
  pass "alert rules loaded: $loaded of $expected, all evaluated without error (firing now: $firing)"
else
  fail "alert rules: $loaded loaded of $expected, $unhealthy unhealthy ($problems)"
fi

# Every metric named by the dashboard and the alert rules exists in Prometheus (counters of
# events this run cannot cause, such as auto top-ups, are registered at zero).
MISSING=$(curl -sf "$PROM/api/v1/label/__name__/values" | python3 -c '
import json, re, sys
have = set(json.load(sys.stdin)["data"])
names = set()
for path in sys.argv[1:]:
    try:
        text = open(path).read()
    except FileNotFoundError:
        continue
    names |= set(re.findall(r"\b((?:tollgate|vertx|jvm|process|system)_[a-z0-9_]+)", text))
# A histogram or timer named in prose (foo_seconds) is there when its series (foo_seconds_bucket...) are.
missing = [n for n in sorted(names) if n not in have and not any(n + s in have for s in ("_bucket", "_count", "_sum"))]
print(",".join(missing) or "-", len(names))' "$DASHBOARD" "$RULES") || MISSING="unreadable 0"
read -r missing named <<<"$MISSING"
if [[ $missing == "-" ]]; then
  pass "all $named metric names used by the dashboard and the alert rules exist in Prometheus"
else
  fail "metric names used by the dashboard or the alert rules but not scraped: ${missing//,/ }"
fi

# Every dashboard query evaluates (template variables filled in as Grafana would for "All").
DASH_REPORT=$(python3 - "$DASHBOARD" "$PROM" <<'PY'
import json, sys, urllib.parse, urllib.request
dashboard, prom = sys.argv[1], sys.argv[2]
exprs = [(p["title"], t["expr"]) for p in json.load(open(dashboard))["panels"] for t in p.get("targets", [])]
errors, empty = [], []
for title, expr in exprs:
    q = (expr.replace("$__rate_interval", "1m").replace('"$job"', '"tollgate"')
         .replace('"$instance"', '".*"').replace('"$route"', '".*"'))
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    try:
        with urllib.request.urlopen(url) as r:
            body = json.load(r)
        if not body["data"]["result"]:
            empty.append(title)
    except Exception as e:
        errors.append(f"{title}: {e}")
print(len(exprs), len(errors), "; ".join(errors) or "-", "; ".join(sorted(set(empty))) or "none", sep="\t")
PY
) || DASH_REPORT=$(printf '0\t1\tdashboard unreadable\tnone')
IFS=$'\t' read -r queries query_errors query_problems empty_panels <<<"$DASH_REPORT"
if [[ $query_errors == 0 && $queries -gt 0 ]]; then
  pass "all $queries dashboard queries evaluate (panels with no data in this run: $empty_panels)"
else
  fail "dashboard queries: $query_errors of $queries failed ($query_problems)"
fi

echo "prometheus-check: $PASSED passed, $FAILED failed"
if ((FAILED == 0)); then
  OK=true
else
  exit 1
fi
