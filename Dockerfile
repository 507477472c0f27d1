# Multi-stage build of the chaptask binary: static, non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/chaptask ./cmd/chaptask

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl python3 \
    && rm -rf /var/lib/apt/lists/* && useradd -m -u 10001 chaptask \
    && mkdir /data && chown chaptask /data
COPY --from=build /out/chaptask /usr/local/bin/chaptask
USER chaptask
ENV CHAPTASK_DATA_DIR=/data CHAPTASK_HTTP_ADDR=0.0.0.0:8000
EXPOSE 8000 8233
HEALTHCHECK --interval=10s --timeout=5s CMD curl -fsS http://127.0.0.1:8000/health || exit 1
ENTRYPOINT ["/usr/local/bin/chaptask"]
