#!/usr/bin/env bash
# The start-up benchmark: bench/startup.sh [--instances N]; see bench/README.md.
# Debian's python3 explicitly: it has pydicom, a python3 earlier in PATH may not.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/startup.py" "$@"
