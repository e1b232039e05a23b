"""Pretrains Webtune's built-in demo model on generic synthetic chat tasks (scripts/demo/tasks.py)
and writes public/models/demo. Deterministic: one seed drives the data stream and the init.

  nice -n 15 /usr/bin/python3 scripts/demo/pretrain.py --steps 600 --batch 16 --layers 3 --inter 256 --lr 3e-3 --probe-every 150
  /usr/bin/python3 scripts/demo/pretrain.py --measure 30 --batch 16   (tokens/s of 30 steps)
(Debian's python3-torch 1.13; see scripts/demo/README.md for what the run above measured.)

Curriculum by step: copy tasks only, then marked spans into JSON, then everything (see
tasks.sample). Loss is on answer tokens and the closing <|im_end|>, as Webtune fine-tunes.
A copy probe (held-out strings, greedy decoding, exact match) runs at every checkpoint and its
results go into probe.json next to the weights.
"""
import argparse, json, math, os, random, sys, time

os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')  # one BLAS thread per torch thread
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tok import Tok  # noqa: E402
from model import Cfg, Qwen2  # noqa: E402
from export import export_folder  # noqa: E402
import tasks  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TOK = Tok()
IM_END = TOK.special['<|im_end|>']
PAD = TOK.special['<|endoftext|>']


def prompt_text(system, user):
    return f'<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n'


def example(system, user, answer):
    p = TOK.encode(prompt_text(system, user))
    a = TOK.encode(answer) + [IM_END]
    return p, a


def batches(r, stage, n, max_len, group=8):
    """n-example batches cut from `group` x n examples sorted by length, so little of a batch is padding."""
    exs = []
    while len(exs) < n * group:
        p, a = example(*tasks.sample(r, stage))
        if len(p) + len(a) <= max_len:
            exs.append((p, a))
    exs.sort(key=lambda e: len(e[0]) + len(e[1]))
    order = list(range(group))
    r.shuffle(order)
    for g in order:
        part = exs[g * n:(g + 1) * n]
        T = max(len(p) + len(a) for p, a in part)
        ids = torch.full((n, T), PAD, dtype=torch.long)
        lab = torch.full((n, T), -100, dtype=torch.long)
        for i, (p, a) in enumerate(part):
            s = p + a
            ids[i, :len(s)] = torch.tensor(s)
            lab[i, len(p) - 1:len(s) - 1] = torch.tensor(a)  # logits at t predict t + 1
        yield ids, lab


# Stage 0 (plain repeat) lasts until copying has appeared: its smoothed loss under COPIED
# (a string of random characters costs ~6 nats a token until the model copies it), at most
# STAGE0_MAX of the steps. The stages after it begin at these fractions of the steps left.
COPIED, STAGE0_MAX = 1.0, 0.4
STAGES = (0.0, 0.08, 0.2)


def stage_of(step, total, copied_at):
    """copied_at: the step stage 0 ended (None while it lasts)."""
    if copied_at is None:
        return 0
    return sum((step - copied_at) / (total - copied_at) >= b for b in STAGES)


@torch.no_grad()
def probe(model, n=64, seed=987654):
    """Exact match on held-out strings (drawn from another seed than training): pure copy, a
    span into JSON with the tool named (marked and unmarked), and the learned generic tools.
    Measured under teacher forcing: greedy decoding reproduces the answer exactly if and only if
    every answer token (and the closing <|im_end|>) is the argmax given the ones before it, so
    this is greedy exact match at the cost of one forward pass."""
    model.eval()
    r = random.Random(seed)
    res = {}
    for name, make in [('copy', lambda: tasks.task_copy(r)), ('span_marked', lambda: tasks.task_span(r, True)),
                       ('span_unmarked', lambda: tasks.task_span(r, False)), ('pool', lambda: tasks.task_pool(r))]:
        exs = [example(*make()) for _ in range(n)]
        T = max(len(p) + len(a) for p, a in exs)
        ids = torch.full((n, T), PAD, dtype=torch.long)
        lab = torch.full((n, T), -100, dtype=torch.long)
        for i, (p, a) in enumerate(exs):
            ids[i, :len(p) + len(a)] = torch.tensor(p + a)
            lab[i, len(p) - 1:len(p) + len(a) - 1] = torch.tensor(a)
        hit = (model(ids).argmax(-1) == lab) | (lab == -100)
        res[name] = round(float(hit.all(-1).float().mean()), 4)
        res[name + '_tokens'] = round(float(hit[lab != -100].float().mean()), 4)
    model.train()
    return res


GROUP = 8  # batches cut from one length-sorted draw


def group_batches(seed, g, stage, n, max_len=256):
    """The GROUP batches of group g: drawn from their own generator (seed, group, stage), so any
    step's batch is known without replaying the ones before it and a resumed run sees the same data."""
    return list(batches(random.Random(f'{seed}:{g}:{stage}'), stage, n, max_len, GROUP))


def lr_at(a, step):
    frac = step / a.steps
    return a.lr * min(1, step / WARMUP) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


WARMUP = 100


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--steps', type=int, default=40000, help='total steps: sets the curriculum stages and the learning-rate schedule')
    ap.add_argument('--measure', type=int, default=0)
    ap.add_argument('--out', default=os.path.join(ROOT, 'public/models/demo'))
    ap.add_argument('--ckpt', default=os.path.expanduser('~/.cache/webtune/demo-pretrain'))
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--hidden', type=int, default=128)
    ap.add_argument('--layers', type=int, default=4)
    ap.add_argument('--inter', type=int, default=256)
    ap.add_argument('--probe-every', type=int, default=1000, help='probe, export to --out and keep a checkpoint every N steps')
    ap.add_argument('--save-every', type=int, default=250, help='resumable state (model, optimizer, curriculum) every N steps')
    ap.add_argument('--resume', action='store_true', help='go on from the state in --ckpt (same arguments): the same weights as an unbroken run')
    ap.add_argument('--stop-at', type=int, default=0, help='stop (probe, checkpoint, export) at this step of the --steps schedule: the shipped weights are step K of an N-step run')
    ap.add_argument('--threads', type=int, default=1, help='1 measured faster than 2 on the shared, loaded 2-core machine')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = Cfg(TOK.size, hidden=a.hidden, layers=a.layers, inter=a.inter)
    model = Qwen2(cfg)
    params = sum(p.numel() for p in model.parameters())
    print(f'params {params:,} vocab {TOK.size}', flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), weight_decay=0.01)
    if a.measure:
        t0, toks = time.time(), 0
        for s in range(a.measure):
            ids, lab = group_batches(a.seed, s, 3, a.batch)[0]
            loss = model.loss(ids, lab)
            opt.zero_grad(); loss.backward(); opt.step()
            toks += ids.numel()
        dt = time.time() - t0
        print(f'{a.measure} steps {dt:.1f}s  {toks / dt:.0f} tokens/s (padded)  {dt / a.measure * 1000:.0f} ms/step  loss {loss.item():.3f}')
        return
    os.makedirs(a.ckpt, exist_ok=True)
    state_path = os.path.join(a.ckpt, 'state.pt')
    st = {'step': 0, 'ema': None, 'copied_at': None, 'probes': [], 'seen': 0, 'tokens': 0, 'minutes': 0.0}
    if a.resume:
        saved = torch.load(state_path)
        if saved['args'] != {k: v for k, v in vars(a).items() if k in KEYED}:
            sys.exit(f'--resume: {state_path} was made with other arguments: {saved["args"]}')
        model.load_state_dict(saved['model'])
        opt.load_state_dict(saved['opt'])
        st = saved['st']
        print(f'resumed at step {st["step"]}', flush=True)
    log = open(os.path.join(a.ckpt, 'log.jsonl'), 'a')

    def emit(rec):
        print(json.dumps(rec, ensure_ascii=False), flush=True)
        log.write(json.dumps(rec, ensure_ascii=False) + '\n')
        log.flush()

    t0, cache = time.time() - st['minutes'] * 60, {}
    for step in range(st['step'] + 1, a.steps + 1):
        g = (step - 1) // GROUP
        if g not in cache:
            # the stage of a group is the stage at its first step
            stage = stage_of((g * GROUP) + 1, a.steps, st['copied_at'])
            cache = {g: (stage, group_batches(a.seed, g, stage, a.batch))}
        stage, group = cache[g]
        ids, lab = group[(step - 1) % GROUP]
        for pg in opt.param_groups:
            pg['lr'] = lr_at(a, step)
        loss = model.loss(ids, lab)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        st['ema'] = loss.item() if st['ema'] is None else 0.98 * st['ema'] + 0.02 * loss.item()
        if st['copied_at'] is None and (st['ema'] < COPIED or step >= STAGE0_MAX * a.steps):
            # from the next group on (the current group keeps its stage)
            st['copied_at'] = (g + 1) * GROUP
            emit({'stage0_ends': st['copied_at'], 'ema': round(st['ema'], 4)})
        st['seen'] += int((lab != -100).sum())
        st['tokens'] += ids.numel()
        st['step'] = step
        st['minutes'] = (time.time() - t0) / 60
        if step % 50 == 0:
            emit({'step': step, 'stage': stage, 'ema': round(st['ema'], 4), 'loss': round(loss.item(), 4), 'lr': lr_at(a, step),
                  'answer_tokens': st['seen'], 'tokens': st['tokens'], 'min': round(st['minutes'], 2)})
        last = step == a.steps or step == a.stop_at
        if step % a.probe_every == 0 or last:
            pr = probe(model)
            pr.update(step=step, min=round(st['minutes'], 2), answer_tokens=st['seen'])
            st['probes'].append(pr)
            emit({'probe': pr})
            torch.save({'model': model.state_dict(), 'step': step, 'args': vars(a)}, os.path.join(a.ckpt, f'step{step}.pt'))
            meta = {'webtune_demo_seed': a.seed, 'webtune_demo_steps': step, 'webtune_demo_of': a.steps, 'webtune_demo_hidden': a.hidden, 'webtune_demo_layers': a.layers}
            export_folder(model, a.out, meta)
            with open(os.path.join(a.out, 'probe.json'), 'w') as f:
                json.dump({'probes': st['probes'], 'args': vars(a), 'params': params}, f, ensure_ascii=False, indent=1)
        if step % a.save_every == 0 or last:
            # written beside and renamed: a kill mid-save leaves the previous state
            torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'st': st,
                        'args': {k: v for k, v in vars(a).items() if k in KEYED}}, state_path + '.tmp')
            os.replace(state_path + '.tmp', state_path)
        if last:
            break
    print('done', flush=True)


# the arguments a resumed run must share with the run it goes on from
KEYED = ('steps', 'seed', 'batch', 'lr', 'hidden', 'layers', 'inter')


if __name__ == '__main__':
    main()
