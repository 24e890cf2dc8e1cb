#!/usr/bin/env bash
# The first command: set up, index sample_images/ with its sighting manifest, show a match.
# With --serve it then starts the API on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export MEMETRACK_DATA_DIR="${MEMETRACK_DATA_DIR:-data}"
mt=.venv/bin/memetrack
echo "== 1. create or upgrade the store (${MEMETRACK_DATABASE_URL:-SQLite in $MEMETRACK_DATA_DIR/})"
$mt db upgrade
echo
echo "== 2. index sample_images/ with its sightings (the files in bad/ fail on purpose)"
status=0
$mt index sample_images --manifest sample_images/manifest.jsonl || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 10 ]; then exit "$status"; fi  # 10: some files failed
echo
echo "== 3. match a re-encoded, resized repost against the index"
$mt match sample_images/memes/mountain_lake_classic_repost.jpg
cat <<MSG

Done. Next:
  .venv/bin/memetrack match PATH/TO/IMAGE          # near-duplicates and where they were posted
  .venv/bin/memetrack show 1                       # one media with hashes and sightings
  .venv/bin/memetrack serve                        # the API on http://127.0.0.1:8000 (docs at /docs)
  curl -F file=@sample_images/memes/chess_cat_classic.jpg http://127.0.0.1:8000/v1/match
MSG
if [ "${1:-}" = "--serve" ]; then
  exec $mt serve
fi
