#!/usr/bin/env bash
# Fetches the exact upstream KEDA and Karpenter CRDs the manifests are written against into
# CRDS_DIR (default ../shared/crds, where the build and the validators read them), for machines
# with internet access (GitHub Actions). Each file must match its pinned SHA-256: a changed
# upstream file fails here, not later in a validator.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CRDS_DIR:-../shared/crds}
keda=https://raw.githubusercontent.com/kedacore/keda/v2.20.2/config/crd/bases
karpenter=https://raw.githubusercontent.com/aws/karpenter-provider-aws/v1.14.1/pkg/apis/crds
mkdir -p "$dir"
while read -r sum file base; do
    [[ -z $sum || $sum == \#* ]] && continue
    if ! { [[ -f $dir/$file ]] && echo "$sum  $dir/$file" | sha256sum -c --quiet - 2>/dev/null; }; then
        curl -fsSL --retry 3 -o "$dir/$file" "${!base}/$file"
        echo "$sum  $dir/$file" | sha256sum -c --quiet - \
            || { echo "fetch-crds: $file from ${!base} is not the pinned file" >&2; exit 1; }
    fi
    echo "fetch-crds: $dir/$file"
done <<'PINS'
# sha256 file source
316c88a1895781e7f67c21508297f1c99bdfc0e55427a4990877af3172a63286 keda.sh_scaledjobs.yaml keda
990851d71901905bc9bebb50cd964bfc909ca24a03dd401a626a1894bb912ecd keda.sh_triggerauthentications.yaml keda
ff2b3e88a9b8f5331ac8f61930f4f7d4169d6ab9c926224ea5eec326843b8c84 karpenter.sh_nodepools.yaml karpenter
38d34b9c6a18cd60c87502af06bc6008408a00908384fb2d28c33ee8a68b7d48 karpenter.k8s.aws_ec2nodeclasses.yaml karpenter
PINS
