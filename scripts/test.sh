#!/usr/bin/env bash
# Everything CI checks: setup, lint, types, unit tests, integration tests on real OVS.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy sdnapp flows topology rest testbeds tests
echo "== pytest"
.venv/bin/python -m pytest -q "$@"
