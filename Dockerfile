# syntax=docker/dockerfile:1
# The data-processor worker image: one KEDA-started Kubernetes Job runs one container of it.
#
#   docker build -t keda-sqs-jobs/data-processor .        (or: make image, which also works with podman)
#
# Builder: the official Rust image. The worker is linked statically (glibc, +crt-static) so the
# runtime stage can be FROM scratch: no shell, no package manager, only the binary and a CA bundle.
# Override RUST_IMAGE to build from a mirror or a local stand-in (make image does so offline).
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm

FROM ${RUST_IMAGE} AS builder
WORKDIR /src
ENV CARGO_TERM_COLOR=never \
    CARGO_REGISTRIES_CRATES_IO_PROTOCOL=sparse \
    RUSTFLAGS="-C target-feature=+crt-static"

# 1) Dependencies only: the workspace manifests, the lockfile and empty crate stubs. This layer is
#    rebuilt only when a manifest or Cargo.lock changes, not when the project's sources do.
COPY Cargo.toml Cargo.lock ./
COPY crates/jobs-core/Cargo.toml crates/jobs-core/
COPY crates/jobs-aws/Cargo.toml crates/jobs-aws/
COPY crates/jobs-runtime/Cargo.toml crates/jobs-runtime/
COPY crates/testkit/Cargo.toml crates/testkit/
COPY crates/dashboard/Cargo.toml crates/dashboard/
COPY crates/jobs-sim/Cargo.toml crates/jobs-sim/
COPY data-processor/Cargo.toml data-processor/
COPY api-lambda/Cargo.toml api-lambda/
COPY dev/local-keda/Cargo.toml dev/local-keda/
COPY jobsctl/Cargo.toml jobsctl/
COPY dev/bench/Cargo.toml dev/bench/
COPY dev/simulator/Cargo.toml dev/simulator/
RUN set -eu; \
    for crate in crates/jobs-core crates/jobs-aws crates/jobs-runtime crates/testkit crates/dashboard crates/jobs-sim data-processor api-lambda dev/local-keda jobsctl dev/bench dev/simulator; do \
      mkdir -p "$crate/src" && : > "$crate/src/lib.rs"; \
    done; \
    mkdir -p data-processor/src && echo 'fn main() {}' > data-processor/src/main.rs; \
    echo 'fn main() {}' > api-lambda/src/main.rs; \
    echo 'fn main() {}' > dev/local-keda/src/main.rs; \
    echo 'fn main() {}' > jobsctl/src/main.rs; \
    echo 'fn main() {}' > dev/bench/src/main.rs; \
    echo 'fn main() {}' > dev/simulator/src/main.rs; \
    cargo build --release --locked -p data-processor --target "$(uname -m)-unknown-linux-gnu"

# 2) The project's sources. Touching them makes cargo rebuild the workspace crates even when the
#    build context carries older timestamps than the stubs above. The dev-only crates (dev/) stay
#    stubs: the image builds only the worker.
COPY crates crates
COPY data-processor data-processor
COPY api-lambda api-lambda
COPY jobsctl jobsctl
# The pools (jobs-core embeds them): the same config the stacks and manifests are made from.
COPY infra-cdk8s/config.json infra-cdk8s/config.json
RUN set -eu; \
    find crates data-processor api-lambda jobsctl -name '*.rs' -exec touch {} +; \
    target="$(uname -m)-unknown-linux-gnu"; \
    cargo build --release --locked -p data-processor --target "$target"; \
    mkdir -p /out; \
    cp "target/$target/release/data-processor" /out/data-processor

FROM scratch AS runtime
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="data-processor" \
      org.opencontainers.image.description="Runs one job from an SQS queue and records its outcome in DynamoDB (KEDA ScaledJob worker)" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /out/data-processor /usr/local/bin/data-processor
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    LOG_FORMAT=json
# A numeric user, so Kubernetes' runAsNonRoot can verify it without an /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/data-processor"]
