#!/usr/bin/env bash
# Makes the Dockerfile's builder base image available to ENGINE and prints the image to build with.
#
#   base-image.sh ENGINE PUBLIC_IMAGE
#
# 1. PUBLIC_IMAGE (e.g. docker.io/library/rust:1.95-slim-bookworm) already present or pullable:
#    print it; the build uses exactly what users get.
# 2. Otherwise (no registry access, as on an offline CI machine) build a local stand-in once:
#    a Debian bookworm minbase rootfs from debootstrap with the packages the public slim image
#    carries for Rust builds (gcc, libc6-dev, ca-certificates), plus this machine's Rust toolchain
#    in the public image's layout (CARGO_HOME=/usr/local/cargo), trusting the host's extra CAs. It is tagged
#    localhost/keda-sqs-jobs/rust-standin:<rustc version>-bookworm and reused while that tag exists.
# The runtime stage is FROM scratch, so no other base image is needed.
set -euo pipefail
engine=$1 public=$2
log() { echo "base-image: $*" >&2; }

if $engine image inspect "$public" >/dev/null 2>&1; then echo "$public"; exit 0; fi
if timeout 60 $engine pull -q "$public" >/dev/null 2>&1; then echo "$public"; exit 0; fi
log "cannot pull $public; using a local stand-in"

rustc_version=$(rustc --version | awk '{print $2}')
standin="localhost/keda-sqs-jobs/rust-standin:${rustc_version}-bookworm"
if $engine image inspect "$standin" >/dev/null 2>&1; then echo "$standin"; exit 0; fi

command -v debootstrap >/dev/null || {
  [[ "$(id -u)" == 0 ]] || { log "debootstrap is missing and we are not root"; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d "${TMPDIR:-/tmp}/rust-standin.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "debootstrap bookworm (minbase + gcc, libc6-dev, ca-certificates) from $mirror"
debootstrap --variant=minbase --include=ca-certificates,gcc,libc6-dev bookworm "$work/root" "$mirror" >&2

# Trust the same extra CAs as this host (e.g. a TLS-intercepting egress proxy's CA), so cargo
# inside the build can reach crates.io wherever the host can.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  log "adding this host's extra CA certificates from /usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$work/root/usr/local/share/ca-certificates/"
  chroot "$work/root" update-ca-certificates >&2
fi

sysroot=$(rustc --print sysroot)
log "adding the Rust toolchain $rustc_version from $sysroot"
mkdir -p "$work/root/usr/local/rust" "$work/root/usr/local/cargo/bin"
cp -a "$sysroot/bin" "$sysroot/lib" "$work/root/usr/local/rust/"
for tool in cargo rustc rustdoc; do ln -s "/usr/local/rust/bin/$tool" "$work/root/usr/local/cargo/bin/$tool"; done
rm -rf "$work/root/var/cache/apt/archives"/*.deb "$work/root/var/lib/apt/lists"/*

tar -C "$work/root" -c . | $engine import \
  --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV CARGO_HOME=/usr/local/cargo' \
  --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
  --change "LABEL org.opencontainers.image.description=\"Local stand-in for rust:slim-bookworm (rustc $rustc_version)\"" \
  - "$standin" >&2
echo "$standin"
