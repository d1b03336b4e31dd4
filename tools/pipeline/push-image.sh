#!/usr/bin/env bash
# The pipeline's image step, after a stage's JobsData: builds the worker image from this commit
# (the project's Dockerfile) and pushes it as $REGISTRY/$REPOSITORY:$IMAGE_TAG, then each command
# kind's image built from a directory here ($BUILT_IMAGES: "<dir>=<repository> ...", each from its
# <dir>/Containerfile) as $REGISTRY/<repository>:$IMAGE_TAG. ECR tags are immutable: a tag that
# is already there (the same commit, a re-run) is left as it is.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${REGISTRY:?}" "${REPOSITORY:?}" "${IMAGE_TAG:?}" "${ECR_REGION:?}"
account=${REGISTRY%%.*}
logged_in=false
# push <repository> <build args...>: builds and pushes one image unless its tag is there.
push() {
    local repository=$1 image="$REGISTRY/$1:$IMAGE_TAG"
    shift
    if aws ecr describe-images --region "$ECR_REGION" --registry-id "$account" --repository-name "$repository" \
        --image-ids imageTag="$IMAGE_TAG" >/dev/null 2>&1; then
        echo "push-image: $image exists; keeping it"
        return 0
    fi
    if [[ $logged_in == false ]]; then
        aws ecr get-login-password --region "$ECR_REGION" | docker login --username AWS --password-stdin "$REGISTRY"
        logged_in=true
    fi
    docker build --pull -t "$image" "$@"
    docker push "$image"
    echo "push-image: pushed $image"
}
push "$REPOSITORY" --build-arg VERSION="$IMAGE_TAG" --build-arg REVISION="$IMAGE_TAG" .
for pair in ${BUILT_IMAGES:-}; do
    dir=${pair%%=*}
    push "${pair#*=}" -f "$dir/Containerfile" "$dir"
done
