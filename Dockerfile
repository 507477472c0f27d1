# syntax=docker/dockerfile:1
# chaptask image: a static binary built in the Go image, run as a non-root
# user on Debian slim. Shell tasks run `sh -c`, so the runtime keeps a shell
# (and python3, which the task guide's shell examples call).

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# modernc SQLite is pure Go, so cgo stays off and the binary is static.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/chaptask ./cmd/chaptask

FROM debian:12.11-slim AS runtime
# tini reaps the orphans of shell tasks (chaptask would be PID 1 otherwise);
# curl serves the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl python3 tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 chaptask \
    && mkdir /data && chown chaptask:chaptask /data
COPY --from=build /out/chaptask /usr/local/bin/chaptask
COPY deploy/chaptask-healthcheck.sh /usr/local/bin/chaptask-healthcheck
USER chaptask
WORKDIR /home/chaptask
# Defaults for the embedded mode (`docker run -p 8000:8000 -p 8233:8233`);
# the compose file overrides them for PostgreSQL and an external Temporal.
ENV CHAPTASK_DATA_DIR=/data \
    CHAPTASK_HTTP_ADDR=0.0.0.0:8000 \
    CHAPTASK_EMBEDDED_UI_ADDR=0.0.0.0:8233
VOLUME /data
EXPOSE 8000 8233
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["chaptask-healthcheck"]
ENTRYPOINT ["tini", "--", "chaptask"]
