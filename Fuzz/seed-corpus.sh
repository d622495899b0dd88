#!/usr/bin/env bash
# Writes one seed file per captured pgoutput message (Tests/PGOutputTests/Fixtures) into $1,
# so the fuzzer starts from real messages of every kind.
set -euo pipefail
out=${1:?usage: Fuzz/seed-corpus.sh DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
for fixture in "$here"/Tests/PGOutputTests/Fixtures/*.txt; do
    name=$(basename "$fixture" .txt)
    [ "$name" = small_rows_bench ] && continue
    n=0
    while IFS=$'\t' read -r _ _ hex; do
        n=$((n + 1))
        [ $n -le 40 ] && [ ${#hex} -le 8192 ] || continue
        printf '%b' "$(sed 's/../\\x&/g' <<<"$hex")" > "$out/$name-$n"
    done < <(grep -v '^#' "$fixture")
done
echo "fuzz: $(ls "$out" | wc -l) seed files in $out"
