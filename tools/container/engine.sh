#!/usr/bin/env bash
# Prints the container engine to use ("docker" or "podman") on stdout, installing and
# configuring podman when no engine is usable and we may install packages (root + apt).
#   CONTAINER_ENGINE=docker|podman  forces a choice.
#   INSTALL=0                       never installs anything (prints nothing and exits 1 instead).
# Callers must export CONTAINERS_CONF=<repo>/tools/container/containers.conf for podman
# (the Makefile does); this script does not touch /etc.
set -euo pipefail
log() { echo "engine: $*" >&2; }

usable() {
  case "$1" in
    docker) command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1 ;;
    podman) command -v podman >/dev/null && timeout 30 podman info >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

if [[ -n "${CONTAINER_ENGINE:-}" ]]; then
  usable "$CONTAINER_ENGINE" || { log "CONTAINER_ENGINE=$CONTAINER_ENGINE is not usable here"; exit 1; }
  echo "$CONTAINER_ENGINE"; exit 0
fi
for e in docker podman; do
  if usable "$e"; then echo "$e"; exit 0; fi
done
if [[ "${INSTALL:-1}" != 0 && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  log "no usable container engine; installing podman + runc with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc uidmap >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc uidmap >&2; }
  if usable podman; then echo podman; exit 0; fi
fi
log "no usable container engine (docker daemon or podman)"
exit 1
