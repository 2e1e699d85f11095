# Stand-in for prom/prometheus: Debian's prometheus package (2.42; promtool beside it) on the
# Debian slim stand-in. Made by scripts/deploy/base-images; no registry needed. Laid out like
# the official image: config /etc/prometheus/prometheus.yml, data in the /prometheus volume,
# run as nobody. Debian's web UI is the classic one; the HTTP API is the same.
ARG BASE=tollgate-ci/debian:bookworm-slim
FROM ${BASE}
RUN set -eux; \
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /prometheus; \
    chown -R nobody:nogroup /prometheus /etc/prometheus; \
    /usr/bin/promtool --version >/dev/null
USER nobody
EXPOSE 9090
VOLUME ["/prometheus"]
WORKDIR /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
