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

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=rootfs.sh
source "$here/rootfs.sh"
sysroot=$(rustc --print sysroot)
add_toolchain() {
    local root=$1
    log "adding the Rust toolchain $rustc_version from $sysroot"
    mkdir -p "$root/usr/local/rust" "$root/usr/local/cargo/bin"
    cp -a "$sysroot/bin" "$sysroot/lib" "$root/usr/local/rust/"
    for tool in cargo rustc rustdoc; do ln -s "/usr/local/rust/bin/$tool" "$root/usr/local/cargo/bin/$tool"; done
}
rootfs_image "$engine" "$standin" ca-certificates,gcc,libc6-dev add_toolchain \
  --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV CARGO_HOME=/usr/local/cargo' \
  --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
  --change "LABEL org.opencontainers.image.description=\"Local stand-in for rust:slim-bookworm (rustc $rustc_version)\""
echo "$standin"
