#!/usr/bin/env bash
# Prints the Chromium to drive (CHROMIUM, else Debian's /usr/bin/chromium), installing Debian's
# package with apt-get when it is missing and we may (root; INSTALL=0 never installs).
# The browser test never downloads a browser build of its own.
set -euo pipefail
log() { echo "chromium: $*" >&2; }
bin=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $bin && -z ${CHROMIUM:-} && "${INSTALL:-1}" != 0 && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  log "installing Debian's chromium with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; }
fi
[[ -x $bin ]] || { log "no Chromium at $bin (install Debian's chromium, or set CHROMIUM)"; exit 1; }
echo "$bin"
