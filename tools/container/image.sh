#!/usr/bin/env bash
# make image: lint the Dockerfile, build the data-processor image with docker or podman, report
# its size and user, and fail if it exceeds the 20 MB budget; then the command kinds' images
# built from this repository (examples-image.sh).
#   IMAGE=<name:tag> (default localhost/keda-sqs-jobs/data-processor:dev)
#   RUST_IMAGE=<builder base> (default: the Dockerfile's; offline, a local stand-in: base-image.sh)
#   LINT_DOCKERFILE=0 skips hadolint (make up builds without the linters' virtualenv; make image lints)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
image=${IMAGE:-localhost/keda-sqs-jobs/data-processor:dev}
max_bytes=20000000
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}

if [[ ${LINT_DOCKERFILE:-1} != 0 ]]; then
  "$root/.venv-lint/bin/hadolint" "$root/Dockerfile"
fi
engine=$("$here/engine.sh")
public=$(sed -n 's/^ARG RUST_IMAGE=//p' "$root/Dockerfile")
rust_image=${RUST_IMAGE:-$("$here/base-image.sh" "$engine" "$public")}
echo "image: building $image with $engine (builder base $rust_image)" >&2
start=$(date +%s)
$engine build --network host \
  --build-arg "RUST_IMAGE=$rust_image" \
  --build-arg "VERSION=$(cd "$root" && cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="data-processor"))')" \
  --build-arg "REVISION=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  -t "$image" "$root" >&2
size=$($engine image inspect --format '{{.Size}}' "$image")
user=$($engine image inspect --format '{{.Config.User}}' "$image")
printf 'image: %s built in %ss: %s bytes (%.1f MB), user %s\n' "$image" "$(( $(date +%s) - start ))" "$size" "$(awk "BEGIN{print $size/1000000}")" "$user" >&2
if (( size > max_bytes )); then echo "image: $size bytes exceeds the $max_bytes-byte budget" >&2; exit 1; fi
# The command kinds' images built here (examples/), tagged beside the worker's.
IMAGE=$image "$here/examples-image.sh" >&2
echo "$engine"
