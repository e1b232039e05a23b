#!/usr/bin/env bash
# Values tied to the utterance, measured with the CLI on the CPU engine: the built-in tiny model
# (or --model DIR) trained with the tiny preset on rows built from the meeting schema, for each
# held-out split (templates: the default; values: seen templates, unseen span values), then
# evaluated free, constrained, and constrained with span values left free (--free-spans).
# Prints, per split, the train line and one eval JSON line per decoding with its wall seconds;
# the per-tool tables are in $OUT/<split>-<decoding>.txt.
#
# --preset trains with the model folder's own preset (train with no hyperparameter flags: the demo
# model's for public/models/demo) instead of the tiny preset's flags.
#
#   scripts/bench-spans.sh [--model public/models/tiny] [--schema public/samples/meeting-schema.json] [--per-tool 20] [--eval-per-tool 5] [--preset] [--out /tmp/bench-spans]
set -euo pipefail
OUT=/tmp/bench-spans
source "$(dirname "$0")/bench-flags.sh"
for split in templates values; do
  cli build-data --schema "$SCHEMA" --per-tool "$PER" --eval-per-tool "$EVAL" --eval-split "$split" --overwrite --out "$OUT/$split-train.json" --eval-out "$OUT/$split-eval.json" 2>/dev/null
  t0=$(date +%s.%N)
  cli train --model "$MODEL" --data "$OUT/$split-train.json" --out "$OUT/$split-adapter" --overwrite "${HYPER[@]}" --system "$SYSTEM" --quiet 2>/dev/null | sed "s/^/{\"split\":\"$split\",\"train\":/; s/\$/}/"
  for decoding in free constrained free-spans; do
    flags=()
    [ "$decoding" = constrained ] && flags=(--constrained)
    [ "$decoding" = free-spans ] && flags=(--constrained --free-spans)
    t0=$(date +%s.%N)
    cli eval --model "$MODEL" --adapter "$OUT/$split-adapter" --data "$OUT/$split-eval.json" --schema "$SCHEMA" "${flags[@]}" --quiet > "$OUT/$split-$decoding.txt" 2>/dev/null
    t1=$(date +%s.%N)
    echo "{\"split\":\"$split\",\"decoding\":\"$decoding\",\"seconds\":$(echo "$t1 - $t0" | bc),\"eval\":$(tail -1 "$OUT/$split-$decoding.txt")}"
  done
done
