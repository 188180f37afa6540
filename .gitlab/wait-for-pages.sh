#!/bin/sh
# Wait until GitLab Pages serves the site the pages job of this pipeline built (its
# timestamp.json), at most about ten minutes: Pages deploys after the pages job, on its own.
#
#   sh .gitlab/wait-for-pages.sh METADATA_URL [BUILT_METADATA_DIR]
set -eu
url=$1
built=${2:-public/metadata}
[ -f "$built/timestamp.json" ] || exit 0 # no pages job in this pipeline: test what is live
tries=0
until python3 - "$url/timestamp.json" "$built/timestamp.json" <<'PY'
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=30) as live:
        served = live.read()
except OSError as e:
    print(f"not yet: {e}", file=sys.stderr)
    sys.exit(1)
with open(sys.argv[2], "rb") as built:
    sys.exit(served != built.read())
PY
do
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "GitLab Pages still does not serve this pipeline's site" >&2
    exit 1
  fi
  sleep 20
done
