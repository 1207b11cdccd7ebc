#!/usr/bin/env bash
# The DICOMweb benchmark: bench/dicomweb.sh [--instances N] [--studies N] [--repeat N] ...;
# see the README's "Benchmarks" section. Builds first.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build" >&2
exec /usr/bin/python3 "$root/bench/dicomweb.py" "$@"
