# Sourced by base-image.sh and examples-image.sh: builds a local image once from a Debian
# bookworm minbase rootfs (debootstrap), for machines that cannot pull the public base images.
#
#   rootfs_image ENGINE TAG PACKAGES [HOOK] [--change ...]
#
# PACKAGES: comma-separated Debian packages to include. HOOK: a function called with the rootfs
# directory before the import (may be empty). The rest: `--change` instructions for the import.
# The host's extra CA certificates are trusted inside (a TLS-intercepting egress proxy's).
# An image that exists already is kept.
rootfs_image() {
    local engine=$1 tag=$2 packages=$3 hook=${4:-}
    shift 4 || shift $#
    if $engine image inspect "$tag" >/dev/null 2>&1; then return 0; fi
    command -v debootstrap >/dev/null || {
        [[ "$(id -u)" == 0 ]] || { echo "rootfs: debootstrap is missing and we are not root" >&2; return 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
    }
    local mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian} work
    work=$(mktemp -d "${TMPDIR:-/tmp}/rootfs.XXXXXX")
    # shellcheck disable=SC2064 # expand now: $work is local
    trap "rm -rf '$work'" RETURN
    echo "rootfs: debootstrap bookworm (minbase + $packages) from $mirror for $tag" >&2
    debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$mirror" >&2
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null && [[ -d $work/root/usr/local/share/ca-certificates ]]; then
        echo "rootfs: adding this host's extra CA certificates" >&2
        cp /usr/local/share/ca-certificates/*.crt "$work/root/usr/local/share/ca-certificates/"
        chroot "$work/root" update-ca-certificates >&2
    fi
    if [[ -n $hook ]]; then "$hook" "$work/root"; fi
    rm -rf "$work/root/var/cache/apt/archives"/*.deb "$work/root/var/lib/apt/lists"/*
    tar -C "$work/root" -c . | $engine import "$@" - "$tag" >&2
}
