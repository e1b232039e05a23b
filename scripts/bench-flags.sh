# The flags scripts/bench-spans.sh and scripts/bench-loop.sh share, parsed once. Source it after
# setting OUT (each script's own default folder); it sets MODEL, PER, EVAL, SCHEMA, HYPER (the
# tiny preset's flags, or none with --preset: the model folder's own preset), SYSTEM (the
# schema's system prompt), makes $OUT, and defines cli.
MODEL=public/models/tiny PER=20 EVAL=5 SCHEMA=public/samples/meeting-schema.json HYPER=(--lr 5e-3 --epochs 12 --batch 4 --accum 1 --dropout 0)
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2 ;; --per-tool) PER=$2; shift 2 ;; --eval-per-tool) EVAL=$2; shift 2 ;; --out) OUT=$2; shift 2 ;; --schema) SCHEMA=$2; shift 2 ;; --preset) HYPER=(); shift ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
SYSTEM=$(node -e "process.stdout.write(require('./$SCHEMA').system)")
cli() { npx tsx src/cli/main.ts "$@"; }
