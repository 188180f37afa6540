#!/bin/sh
# Prepare a tufrepo job on GitLab CI (the counterpart of .github/actions/setup-tufrepo and
# actions/checkout with fetch-depth 0):
#
# * install tufrepo from this repository with the pinned, hash-checked dependencies of
#   requirements/ci.txt (and git, which python:3.11-slim lacks);
# * check out the pipeline's branch by name (GitLab checks out a detached HEAD) and fetch
#   main, the known good (GitLab fetches only the pipeline's branch);
# * push through the project access token TUFREPO_GITLAB_TOKEN when it is set (the job
#   token may only push where "Allow Git push requests to the repository" is enabled).
#
# TUFREPO_PREINSTALLED=true skips the installation: for running the pipeline locally
# (gitlab-ci-local) where tufrepo is already on PATH.
set -eu

if [ "${TUFREPO_PREINSTALLED:-}" != "true" ]; then
  if ! command -v git >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends git ca-certificates >/dev/null
  fi
  python3 -m pip install --quiet --no-cache-dir --require-hashes -r requirements/ci.txt
  python3 -m pip install --quiet --no-cache-dir --no-deps --no-build-isolation .
fi
tufrepo --version

git fetch --quiet origin "+refs/heads/main:refs/remotes/origin/main"
if [ -n "${CI_COMMIT_BRANCH:-}" ]; then
  git checkout --quiet -B "$CI_COMMIT_BRANCH" "$CI_COMMIT_SHA"
fi
if [ -n "${TUFREPO_GITLAB_TOKEN:-}" ]; then
  git remote set-url --push origin \
    "${CI_SERVER_PROTOCOL}://tufrepo-bot:${TUFREPO_GITLAB_TOKEN}@${CI_SERVER_FQDN:-$CI_SERVER_HOST}/${CI_PROJECT_PATH}.git"
fi
