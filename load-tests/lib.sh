# Shell helpers the load-test scripts share; sourced (`. "$ROOT/load-tests/lib.sh"`), never run.

log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# Waits up to 60 s for URL to answer 2xx; dies naming it otherwise.
wait_http() {
  for _ in $(seq 1 300); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done
  die "$1 did not come up"
}

# User + system CPU of the given PIDs so far, in clock ticks (getconf CLK_TCK per second), from
# /proc/<pid>/stat; a PID that is gone counts 0.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}

# Requests a gateway has admitted so far: tollgate_admission_decisions_total{decision="allowed"}
# summed, read from the admin base URL given (http://127.0.0.1:PORT).
admitted() {
  curl -fs "$1/metrics" | awk '/^tollgate_admission_decisions_total\{/ && /decision="allowed"/ {s += $NF} END {printf "%d\n", s}'
}

# Usage events stored in the database given (one row per event id).
usage_rows() { psql -d "$1" -Atqc 'SELECT count(*) FROM usage_event_ids'; }
