#!/usr/bin/env bash
# The pipeline's synth step (CodeBuild, aws/codebuild/standard:7.0): the project's own commands.
# Installs the pinned Rust toolchain, fetches the pinned CRDs, builds the Lambda zip and the
# `jobsctl` binary the post-deploy check runs (dist/check/), and synthesizes the app with the
# commit id as the image tag. IMAGE_TAG comes from the pipeline (the source's CommitId).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${IMAGE_TAG:?IMAGE_TAG (the commit id) is required}"
rust=1.95.0
if ! command -v cargo >/dev/null || [[ $(rustc --version) != "rustc $rust "* ]]; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain "$rust"
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
export CARGO_TARGET_DIR=$PWD/target
tools/fetch-crds.sh
make package
cargo build --release --locked -p jobsctl
mkdir -p dist/check
cp "$CARGO_TARGET_DIR/release/jobsctl" dist/check/
make infra-build
cd infra-cdk8s
CDK_DISABLE_CLI_TELEMETRY=true npx --no-install cdk synth --no-notices -q -c imageTag="$IMAGE_TAG"
