#!/usr/bin/env bash
# Builds the images of the command kinds built from this repository: each directory named by a
# command kind's `"image": {"build": "<dir>"}` in infra-cdk8s/config.json, from <dir>/Containerfile,
# tagged like the worker's local image (IMAGE=localhost/keda-sqs-jobs/data-processor:dev makes
# localhost/keda-sqs-jobs/<dir's name>:dev, what local-scaledjob runs for them).
#   BASE=<image> overrides the Containerfiles' base; offline, a local stand-in is used: Debian
#   bookworm with python3 (rootfs.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
image=${IMAGE:-localhost/keda-sqs-jobs/data-processor:dev}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
engine=$("$here/engine.sh")
dirs=$(python3 -c 'import json,sys
kinds = json.load(open(sys.argv[1])).get("commandKinds", {})
print("\n".join(sorted({k["image"]["build"] for k in kinds.values() if isinstance(k.get("image"), dict)})))' "$root/infra-cdk8s/config.json")
[[ -n $dirs ]] || exit 0

base=${BASE:-}
if [[ -z $base ]]; then
    public=docker.io/library/python:3.11-slim-bookworm
    if $engine image inspect "$public" >/dev/null 2>&1 || timeout 60 $engine pull -q "$public" >/dev/null 2>&1; then
        base=$public
    else
        # shellcheck source=rootfs.sh
        source "$here/rootfs.sh"
        base=localhost/keda-sqs-jobs/python-standin:3-bookworm
        echo "examples-image: cannot pull $public; using the local stand-in $base" >&2
        rootfs_image "$engine" "$base" ca-certificates,python3 "" \
          --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
          --change 'LABEL org.opencontainers.image.description="Local stand-in for python:3-slim-bookworm (Debian python3)"'
    fi
fi
for dir in $dirs; do
    tag="${image%/*}/${dir##*/}:${image##*:}"
    echo "examples-image: building $tag from $dir/Containerfile (base $base)" >&2
    $engine build --network host --build-arg "BASE=$base" -t "$tag" -f "$root/$dir/Containerfile" "$root/$dir" >&2
done
