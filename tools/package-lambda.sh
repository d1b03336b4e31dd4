#!/usr/bin/env bash
# make package: the api-lambda deployment zip for the provided.al2023 runtime, `bootstrap` at the
# zip root, written to dist/api-lambda.zip (the JobsApi stack's code asset).
#
# The architecture comes from infra-cdk8s/config.json (lambdaArchitecture), the same value the CDK
# stack deploys. x86_64 is built here with cargo: a static (+crt-static) binary, so it does not
# depend on the glibc version of Amazon Linux 2023. arm64 needs cargo-lambda (zig cross-linker):
#   cargo install cargo-lambda && LAMBDA_ARCH=arm64 make package
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
arch=${LAMBDA_ARCH:-$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lambdaArchitecture"])' "$root/infra-cdk8s/config.json")}
out="$root/dist"
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
case "$arch" in
  x86_64)
    target=x86_64-unknown-linux-gnu
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked -p api-lambda --target "$target" >&2
    cp "${CARGO_TARGET_DIR:-$root/target}/$target/release/api-lambda" "$stage/bootstrap"
    ;;
  arm64)
    command -v cargo-lambda >/dev/null || { echo "package: arm64 needs cargo-lambda (cargo install cargo-lambda)" >&2; exit 1; }
    cargo lambda build --release --locked --arm64 -p api-lambda --lambda-dir "$stage/build" >&2
    cp "$stage/build/api-lambda/bootstrap" "$stage/bootstrap"
    ;;
  *) echo "package: unknown lambdaArchitecture $arch" >&2; exit 1 ;;
esac
# Fixed timestamp and no extra attributes: the same binary gives the same zip (and CDK asset hash).
chmod 0755 "$stage/bootstrap"
touch -d '2000-01-01T00:00:00Z' "$stage/bootstrap"
rm -f "$out/api-lambda.zip"
(cd "$stage" && zip -q -X -9 "$out/api-lambda.zip" bootstrap)
python3 - "$out/api-lambda.zip" "$arch" <<'PY'
import stat, sys, zipfile
path, arch = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(path)
names = z.namelist()
assert names == ["bootstrap"], f"zip must hold only bootstrap at its root, has {names}"
info = z.getinfo("bootstrap")
assert stat.S_IMODE(info.external_attr >> 16) & 0o111, "bootstrap must be executable"
head = z.read("bootstrap")[:20]
assert head[:4] == b"\x7fELF", "bootstrap must be an ELF binary"
machine = int.from_bytes(head[18:20], "little")
assert machine == {"x86_64": 62, "arm64": 183}[arch], f"ELF machine {machine} does not match {arch}"
print(f"package: {path}: {sum(i.compress_size for i in z.infolist())} bytes zipped, bootstrap {info.file_size} bytes, {arch}", file=sys.stderr)
PY
