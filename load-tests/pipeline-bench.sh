#!/usr/bin/env bash
# Usage pipeline benchmark: Redis stream → Postgres, with the production consumer and schema.
# Needs a Redis and a Postgres (this machine's: 127.0.0.1:6379 and :5432); it deletes the usage
# streams and truncates the usage tables of a dedicated database (default tollgate_bench).
#   load-tests/pipeline-bench.sh [--events 200000] [--rate 5000] [--seconds 30] [--batch 500] [--consumers 2] [--flush-ms 200]
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${BENCH_DB:-tollgate_bench}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/$DB}
if command -v psql >/dev/null && [[ "$DATABASE_URL" == *"127.0.0.1:5432/$DB" ]]; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
fi
mvn -B -ntp -q -Dstyle.color=never install -DskipTests >&2
CP_FILE=$(mktemp)
trap 'rm -f "$CP_FILE"' EXIT
mvn -B -ntp -q -Dstyle.color=never -pl load-tests dependency:build-classpath -Dmdep.includeScope=compile -Dmdep.outputFile="$CP_FILE" >&2
CP=$(cat "$CP_FILE")
echo "redis: $(redis-cli -u "$REDIS_URL" INFO server 2>/dev/null | grep -m1 redis_version | tr -d '\r' || echo unknown)," \
  "postgres: $(psql "$DATABASE_URL" -tAc 'SHOW server_version' 2>/dev/null || echo unknown)," \
  "java: $(java -version 2>&1 | head -1), cores: $(nproc)" >&2
java -Dlogback.configurationFile=load-tests/pipeline-logback.xml -cp "load-tests/target/classes:$CP" io.tollgate.loadtests.pipeline.PipelineBenchmark "$@"
