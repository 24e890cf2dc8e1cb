#!/usr/bin/env bash
# The second command: the whole test suite, on SQLite and on PostgreSQL
# (MEMETRACK_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
