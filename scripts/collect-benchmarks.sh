#!/usr/bin/env bash
# Rebuilds BENCHMARKS.md: a summary written by hand at the top (bench/SUMMARY.md), then every bench/<area>/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  cat bench/SUMMARY.md
  for f in bench/*/RESULTS.md; do
    area=$(basename "$(dirname "$f")")
    printf '\n---\n\n<a id="%s"></a>\n\n' "$area"
    # Demote the area's headings by one level so they nest under this page.
    sed -e 's/^#/##/' "$f"
  done
} > BENCHMARKS.md
echo "BENCHMARKS.md rebuilt from $(ls bench/*/RESULTS.md | wc -l) result files"
