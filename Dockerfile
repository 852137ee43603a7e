# syntax=docker/dockerfile:1
# Base images are build arguments so the image can be built where Docker Hub is out of reach
# (deploy/podman/build-local-bases.sh makes stand-ins from Debian packages); `docker build .`
# uses the public images below.
ARG BUILD_IMAGE=maven:3.9-eclipse-temurin-17
ARG RUNTIME_IMAGE=eclipse-temurin:17-jre

# Build stage: the whole reactor, tests skipped (CI runs them); only the gateway jar is kept.
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY pom.xml ./
COPY config/pom.xml config/
COPY embedded/pom.xml embedded/
COPY metering/pom.xml metering/
COPY stripe-sync/pom.xml stripe-sync/
COPY load-tests/pom.xml load-tests/
COPY gateway/pom.xml gateway/
COPY config/src config/src
COPY embedded/src embedded/src
COPY metering/src metering/src
COPY stripe-sync/src stripe-sync/src
COPY load-tests/src load-tests/src
COPY gateway/src gateway/src
RUN mvn -B -ntp -q -DskipTests package

# Runtime stage: JRE only, unprivileged user.
FROM ${RUNTIME_IMAGE}
RUN groupadd --system --gid 10001 tollgate \
 && useradd --system --uid 10001 --gid tollgate --home-dir /app --shell /usr/sbin/nologin tollgate \
 && mkdir -p /app/data \
 && chown -R tollgate:tollgate /app
WORKDIR /app
COPY --from=build /src/gateway/target/tollgate.jar /app/tollgate.jar
COPY tollgate.yaml /app/tollgate.yaml
USER 10001:10001
# Container-aware heap sizing; die on OOM so the orchestrator restarts a clean instance.
# The admin port (admin API, /metrics, /health) defaults to loopback outside containers; inside
# one, loopback would hide it from the published port, Prometheus and the orchestrator's probes,
# so the image listens on every interface of the container and leaves restricting access to the
# port mapping or network policy. Startup then refuses an admin token under 32 characters.
ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75 -XX:InitialRAMPercentage=50 -XX:+ExitOnOutOfMemoryError -XX:+UseG1GC" \
    TOLLGATE_DATA_DIR=/app/data \
    TOLLGATE_HOST=0.0.0.0 \
    TOLLGATE_ADMIN_HOST=0.0.0.0
EXPOSE 8080 8081
# Without REDIS_URL / DATABASE_URL the image runs embedded Redis and Postgres under /app/data
# (mount a volume there); in production set both to external servers.
ENTRYPOINT ["java", "-jar", "/app/tollgate.jar"]
CMD ["--config", "/app/tollgate.yaml"]
