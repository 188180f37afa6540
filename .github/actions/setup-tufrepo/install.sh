#!/usr/bin/env bash
# Install tufrepo from the source tree this script belongs to: the tufrepo commit a
# workflow pinned (`uses: <owner>/tufrepo/.github/actions/<x>@<commit>`), never the
# checkout of the TUF repository being judged. Dependencies come hash-checked from
# requirements/ci.txt of the same commit.
#
# SIGSTORE_TRUST_CONFIG (a repository variable holding a ClientTrustConfig JSON) selects
# another Sigstore instance than production; it is written to a file under RUNNER_TEMP
# and exported as TUFREPO_SIGSTORE_TRUST_CONFIG. Never a file from the checkout:
# whoever can push could name their own instance there.
set -euo pipefail
source="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
python -m pip install --quiet --require-hashes -r "$source/requirements/ci.txt"
python -m pip install --quiet --no-deps --no-build-isolation "$source"
if [ -n "${SIGSTORE_TRUST_CONFIG:-}" ]; then
  printf '%s\n' "$SIGSTORE_TRUST_CONFIG" > "$RUNNER_TEMP/sigstore-trust-config.json"
  echo "TUFREPO_SIGSTORE_TRUST_CONFIG=$RUNNER_TEMP/sigstore-trust-config.json" >> "$GITHUB_ENV"
fi
tufrepo --version
