#!/usr/bin/env bash
# The Query/Retrieve benchmark: bench/qr.sh [--instances N] [--skip-orthanc] [--million N] ...;
# see the README's "Benchmarks" section. Builds first (the client is a project target).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build" >&2
exec /usr/bin/python3 "$root/bench/qr.py" "$@"
