"""A values split of a tool schema, made by hand until `build-data --eval-split values` exists:
every template is in training, but the held-out rows use parameter values training never saw.

  python3 scripts/demo/values_split.py public/samples/meeting-schema.json /tmp/vs --per-tool 20 --eval-per-tool 5

Per parameter, a third of its example values (at least 2) are held out. Training rows draw
from the other values; held-out rows from the held-out ones. A tool without parameters has no
values to hold out: its held-out rows are its templates, which training also has (listed apart
in BENCHMARKS.md so the values rows are read on their own). Seed format (instruct, input, output).
"""
import argparse, json, os, random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('schema')
    ap.add_argument('out')
    ap.add_argument('--per-tool', type=int, default=20)
    ap.add_argument('--eval-per-tool', type=int, default=5)
    ap.add_argument('--seed', type=int, default=42)
    a = ap.parse_args()
    s = json.load(open(a.schema, encoding='utf-8'))
    r = random.Random(a.seed)
    train, held = [], []
    for t in s['tools']:
        f = t['function']
        props = f.get('parameters', {}).get('properties', {})
        split = {}
        for k, p in props.items():
            ex = list(p['examples'])
            r.shuffle(ex)
            n = max(2, len(ex) // 3)
            split[k] = (ex[n:], ex[:n])
        for rows, side, count in ((train, 0, a.per_tool), (held, 1, a.eval_per_tool)):
            seen = set()
            for _ in range(count * 50):
                if len([1 for x in rows if x['output']['tool_name'] == f['name']]) >= count:
                    break
                tpl = r.choice(t['templates'])
                vals = {k: r.choice(split[k][side]) for k in props}
                text = tpl.format(**vals)
                if text in seen:
                    continue
                seen.add(text)
                rows.append({'instruct': s['instruct'], 'input': text, 'output': {'tool_name': f['name'], 'parameters': vals}})
    os.makedirs(a.out, exist_ok=True)
    for name, rows in (('train.json', train), ('eval.json', held)):
        with open(os.path.join(a.out, name), 'w', encoding='utf-8') as fh:
            json.dump(rows, fh, ensure_ascii=False, indent=0)
    print(f'{len(train)} training rows, {len(held)} held-out rows in {a.out}')


if __name__ == '__main__':
    main()
