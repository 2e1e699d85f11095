# Stand-in for the official nginx image: Debian's nginx on the Debian slim stand-in. Made by
# scripts/deploy/base-images; no registry needed. Only /etc/nginx/conf.d/*.conf is served (the
# Debian default site is removed, and unlike the official image there is no default.conf);
# logs go to the container's stdout/stderr. Workers run as www-data (Debian's nginx.conf).
# No /docker-entrypoint.d or templates/ envsubst step: mount finished .conf files.
ARG BASE=tollgate-ci/debian:bookworm-slim
FROM ${BASE}
RUN set -eux; \
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx; \
    rm -rf /var/lib/apt/lists/*; \
    rm -f /etc/nginx/sites-enabled/default; \
    ln -sf /dev/stdout /var/log/nginx/access.log; \
    ln -sf /dev/stderr /var/log/nginx/error.log; \
    nginx -t
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
