# Stand-in for the official postgres:15 image: Debian's postgresql-15 package on the Debian slim
# stand-in, with scripts/deploy/postgres-entrypoint.sh keeping the official image's contract
# (POSTGRES_USER/PASSWORD/DB, PGDATA, /docker-entrypoint-initdb.d). Made by
# scripts/deploy/base-images; no registry needed. The build context holds the entrypoint.
ARG BASE=tollgate-ci/debian:bookworm-slim
FROM ${BASE}
# uid/gid 999 as in the official image, so a data volume can move between the two.
RUN set -eux; \
    groupadd -r postgres --gid=999; \
    useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres; \
    mkdir -p /var/lib/postgresql; \
    chown -R postgres:postgres /var/lib/postgresql
ENV LANG=en_US.utf8 \
    PG_MAJOR=15 \
    PATH=$PATH:/usr/lib/postgresql/15/bin \
    PGDATA=/var/lib/postgresql/data
# No service started during the install (policy-rc.d), and no cluster made: Debian's
# postgresql-common would create 15/main; the entrypoint's initdb makes the only one, in PGDATA.
RUN set -eux; \
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends locales postgresql-common; \
    sed -ri 's/^#?\s*(create_main_cluster)\s*=.*$/\1 = false/' /etc/postgresql-common/createcluster.conf; \
    grep -qx 'create_main_cluster = false' /etc/postgresql-common/createcluster.conf; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "postgresql-$PG_MAJOR"; \
    rm -rf /var/lib/apt/lists/*; \
    if [ -d "/etc/postgresql/$PG_MAJOR/main" ]; then pg_dropcluster "$PG_MAJOR" main; fi; \
    rm -rf "/var/lib/postgresql/$PG_MAJOR"; \
    localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8; \
    sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"; \
    grep -F "listen_addresses = '*'" "/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"; \
    ln -sf "/usr/lib/postgresql/$PG_MAJOR/bin/"* /usr/local/bin/; \
    mkdir -p /var/run/postgresql /docker-entrypoint-initdb.d "$PGDATA"; \
    chown -R postgres:postgres /var/run/postgresql "$PGDATA"; \
    chmod 3777 /var/run/postgresql; \
    chmod 1777 "$PGDATA"; \
    pg_isready --version
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
# docker stop sends SIGINT, PostgreSQL's fast shutdown, as in the official image (SIGTERM's
# smart shutdown would wait for every client, e.g. a connection pool, to disconnect).
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
