# Tollgate's container image: `docker build .` (or `docker build --target emulator .` for the
# demo's Stripe emulator). The stages:
#   web      builds the SPA and GraphiQL (web/dist) with Node.js
#   server   builds the release binary (profile `container`: release, symbols stripped)
#   runtime  the image users run: the binary, the web files and CA certificates on Debian slim;
#            non-root, no compiler, nothing run through a shell
# Bases are build arguments so a site with its own mirror (or CI, which makes its bases from
# Debian's packages) builds this same file. ARTIFACTS=prebuilt takes the binary, web/dist and a
# CA bundle from .prebuilt/ in the context instead of building them (scripts/test-deploy does
# that: no Rust toolchain image can be pulled there); the runtime stage is the same either way.
ARG BUILD_BASE=rust:1.95-bookworm
ARG NODE_BASE=node:20-bookworm-slim
ARG RUNTIME_BASE=debian:bookworm-slim
ARG PYTHON_BASE=python:3.11-slim-bookworm
ARG ARTIFACTS=source

FROM ${NODE_BASE} AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi \
 && npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
# GraphQL Code Generator types the SPA's operations from the schema one level up.
COPY schema.graphql /src/schema.graphql
RUN npm run --silent build

FROM ${BUILD_BASE} AS server
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src src
COPY entity entity
COPY migration migration
COPY tests tests
COPY examples examples
COPY schema.graphql ./
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export CARGO_HTTP_CAINFO=/run/secrets/ca-certificates; fi \
 && cargo build --locked --profile container --bin tollgate \
 && cp target/container/tollgate /tollgate

FROM scratch AS artifacts-source
COPY --from=server /tollgate /out/tollgate
COPY --from=server /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt
COPY --from=web /src/web/dist /out/web

FROM scratch AS artifacts-prebuilt
COPY .prebuilt/tollgate /out/tollgate
COPY .prebuilt/ca-certificates.crt /out/ca-certificates.crt
COPY .prebuilt/web /out/web

FROM artifacts-${ARTIFACTS} AS artifacts

# The demo's Stripe emulator (localstripe with Tollgate's patches): never for production.
FROM ${PYTHON_BASE} AS emulator
ARG LOCALSTRIPE_VERSION=1.15.10
# Behind a TLS-inspecting proxy, hand pip the proxy's CA bundle as a build secret
# (`--secret id=ca-certificates,src=/etc/ssl/certs/ca-certificates.crt`); without it pip uses
# its own bundle. A secret is never stored in a layer.
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export PIP_CERT=/run/secrets/ca-certificates; fi \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check "localstripe==${LOCALSTRIPE_VERSION}"
COPY scripts/stripe-emulator/launcher.py /opt/emulator/launcher.py
COPY scripts/stripe-emulator/tollgate_emulator /opt/emulator/tollgate_emulator
USER 65532:65532
EXPOSE 8420
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=2s --start-period=20s --retries=5 \
  CMD ["/opt/venv/bin/python", "-c", "import socket; socket.create_connection(('127.0.0.1', 8420), 1)"]
ENTRYPOINT ["/opt/venv/bin/python", "/opt/emulator/launcher.py", "--host", "0.0.0.0", "--port", "8420"]

FROM ${RUNTIME_BASE} AS runtime
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="Tollgate" \
      org.opencontainers.image.description="GraphQL billing gateway for Stripe" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/tollgate-billing/tollgate" \
      org.opencontainers.image.licenses="MIT"
COPY --from=artifacts /out/tollgate /usr/local/bin/tollgate
COPY --from=artifacts /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=artifacts /out/web /usr/share/tollgate/web
# A home for a SQLite file (DATABASE_URL=sqlite:///var/lib/tollgate/tollgate.db) owned by the
# user the process runs as; with PostgreSQL nothing is written here.
RUN mkdir -p /var/lib/tollgate && chown 65532:65532 /var/lib/tollgate
WORKDIR /var/lib/tollgate
ENV BIND_ADDR=0.0.0.0:8080 \
    WEB_DIR=/usr/share/tollgate/web \
    LOG_FORMAT=json \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/tollgate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["serve"]
