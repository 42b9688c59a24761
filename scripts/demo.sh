#!/usr/bin/env bash
# The main job: set up, start sdnapp, build the Mininet demo and print its ping matrix.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m testbeds.demo "$@"
