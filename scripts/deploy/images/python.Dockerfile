# Stand-in for python:3.11-slim-bookworm: Debian's Python 3.11 with venv (and so pip inside a
# venv) on the Debian slim stand-in. Made by scripts/deploy/base-images; no registry needed.
# Differences from the official image: python3 is /usr/bin/python3 (Debian's build), and there
# is no pip outside a venv (`python3 -m venv DIR && DIR/bin/pip ...`, as our Dockerfile does).
ARG BASE=tollgate-ci/debian:bookworm-slim
FROM ${BASE}
ENV LANG=C.UTF-8
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python-is-python3; \
    rm -rf /var/lib/apt/lists/*; \
    python3 -m venv --help >/dev/null
CMD ["python3"]
