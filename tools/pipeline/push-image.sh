#!/usr/bin/env bash
# The pipeline's image step, after a stage's JobsData: builds the worker image from this commit
# (the project's Dockerfile) and pushes it as $REGISTRY/$REPOSITORY:$IMAGE_TAG. ECR tags are
# immutable: a tag that is already there (the same commit, a re-run) is left as it is.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${REGISTRY:?}" "${REPOSITORY:?}" "${IMAGE_TAG:?}" "${ECR_REGION:?}"
image="$REGISTRY/$REPOSITORY:$IMAGE_TAG"
account=${REGISTRY%%.*}
if aws ecr describe-images --region "$ECR_REGION" --registry-id "$account" --repository-name "$REPOSITORY" \
    --image-ids imageTag="$IMAGE_TAG" >/dev/null 2>&1; then
    echo "push-image: $image exists; keeping it"
    exit 0
fi
aws ecr get-login-password --region "$ECR_REGION" | docker login --username AWS --password-stdin "$REGISTRY"
docker build --pull -t "$image" --build-arg VERSION="$IMAGE_TAG" --build-arg REVISION="$IMAGE_TAG" .
docker push "$image"
echo "push-image: pushed $image"
