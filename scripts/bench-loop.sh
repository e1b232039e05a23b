#!/usr/bin/env bash
# The error loop against its control, with the CLI on the CPU engine (issue 21, point 5): a
# model (default the built-in tiny one) trained on rows built from a schema, evaluated; its wrong
# rows give new training rows (siblings: same template, other values; never the rows themselves);
# training continues from the adapter once with them (the loop) and once without them for the
# same optimizer steps (the control, `train --control`), and both are evaluated on the same rows.
# The loop's gain is the loop's score minus the control's, not minus the first adapter's.
# Prints one JSON line per evaluation (free and constrained) with the run and its wall seconds.
#
#   scripts/bench-loop.sh [--model public/models/tiny] [--schema public/samples/meeting-schema.json] [--per-tool 20] [--eval-per-tool 5] [--preset] [--out /tmp/bench-loop]
set -euo pipefail
OUT=/tmp/bench-loop
source "$(dirname "$0")/bench-flags.sh"
evaluate() { # run-name adapter
  for decoding in free constrained; do
    flags=("${@:3}") # --wrong-out: the free decoding's wrong rows, as the seed counts them
    [ "$decoding" = constrained ] && flags=(--constrained)
    t0=$(date +%s.%N)
    cli eval --model "$MODEL" --adapter "$2" --data "$OUT/eval.json" --schema "$SCHEMA" --system "$SYSTEM" "${flags[@]}" --quiet > "$OUT/$1-$decoding.txt" 2>/dev/null
    echo "{\"run\":\"$1\",\"decoding\":\"$decoding\",\"seconds\":$(echo "$(date +%s.%N) - $t0" | bc),\"eval\":$(tail -1 "$OUT/$1-$decoding.txt")}"
  done
}
cli build-data --schema "$SCHEMA" --per-tool "$PER" --eval-per-tool "$EVAL" --overwrite --out "$OUT/train.json" --eval-out "$OUT/eval.json" 2>/dev/null
cli train --model "$MODEL" --data "$OUT/train.json" --out "$OUT/first" --overwrite "${HYPER[@]}" --system "$SYSTEM" --quiet 2>/dev/null | sed 's/^/{"run":"first","train":/; s/$/}/'
evaluate first "$OUT/first" --wrong-out "$OUT/wrong.json"
for run in loop control; do
  flags=()
  [ "$run" = control ] && flags=(--control)
  cli train --model "$MODEL" --adapter "$OUT/first" --add "$OUT/wrong.json" --schema "$SCHEMA" --data "$OUT/train.json" --out "$OUT/$run" --overwrite "${HYPER[@]}" "${flags[@]}" --system "$SYSTEM" --quiet 2>/dev/null | sed "s/^/{\"run\":\"$run\",\"train\":/; s/\$/}/"
  evaluate "$run" "$OUT/$run"
done
