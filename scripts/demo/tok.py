"""The demo model's tokenizer: Qwen's byte-level BPE machinery with a small vocabulary.

Ids 0..255 are the 256 byte symbols (GPT-2's byte-to-unicode map, as Qwen's), so any UTF-8
text encodes. Then, for the common Chinese characters (GB2312 level 1) and the CJK
punctuation, two merges each: lead byte + first continuation byte, then that pair + the last
byte. A known character is one token; nothing merges across characters, so the encoding is a
per-character rule this file reproduces exactly (test/demo-model.test.ts checks it against
Webtune's tokenizer). English stays one token per byte: the model copies letter by letter.
Last come Qwen's three ChatML specials.
"""
import json, unicodedata

SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']


def byte_encoder():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE = byte_encoder()


def common_chars():
    """GB2312 level 1 (3755 common hanzi, rows 0xB0-0xD7) plus the CJK punctuation and full-width forms used in chat."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                c = bytes([hi, lo]).decode('gb2312')
            except UnicodeDecodeError:
                continue
            out.append(c)
    out += list('，。：；！？、“”‘’（）《》「」【】—…·～')
    return [c for c in dict.fromkeys(out) if len(c.encode('utf-8')) == 3]


class Tok:
    def __init__(self):
        self.vocab = {BYTE[b]: b for b in range(256)}
        self.merges = []
        chars = common_chars()
        pairs = []
        for c in chars:
            b = c.encode('utf-8')
            p = BYTE[b[0]] + BYTE[b[1]]
            if p not in self.vocab:
                self.vocab[p] = len(self.vocab)
                pairs.append((BYTE[b[0]], BYTE[b[1]]))
        self.merges += pairs
        self.char_id = {}
        for c in chars:
            b = c.encode('utf-8')
            p = BYTE[b[0]] + BYTE[b[1]]
            s = p + BYTE[b[2]]
            self.vocab[s] = len(self.vocab)
            self.merges.append((p, BYTE[b[2]]))
            self.char_id[c] = self.vocab[s]
        self.special = {}
        for s in SPECIALS:
            self.special[s] = len(self.vocab)
            self.vocab[s] = len(self.vocab)
        self.size = len(self.vocab)
        self.id_str = {i: s for s, i in self.vocab.items()}
        self.byte_of = {v: k for k, v in BYTE.items()}

    def encode_plain(self, text):
        ids = []
        for c in text:
            i = self.char_id.get(c)
            if i is not None:
                ids.append(i)
                continue
            b = c.encode('utf-8')
            if len(b) == 3 and (BYTE[b[0]] + BYTE[b[1]]) in self.vocab:
                ids += [self.vocab[BYTE[b[0]] + BYTE[b[1]]], b[2]]
            else:
                ids += list(b)
        return ids

    def encode(self, text):
        """Ids of text, the ChatML specials recognised where spelled (as Webtune's encode does)."""
        assert unicodedata.normalize('NFC', text) == text, 'text must be NFC (the tokenizer normalizes)'
        ids, i = [], 0
        while i < len(text):
            j = min([k for k in (text.find(s, i) for s in SPECIALS) if k >= 0], default=-1)
            if j < 0:
                ids += self.encode_plain(text[i:])
                break
            ids += self.encode_plain(text[i:j])
            s = next(s for s in SPECIALS if text.startswith(s, j))
            ids.append(self.special[s])
            i = j + len(s)
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            s = self.id_str[i]
            if s in self.special:
                out += s.encode('utf-8')
            else:
                out += bytes(self.byte_of[ch] for ch in s)
        return out.decode('utf-8', errors='replace')

    def tokenizer_json(self, qwen_path):
        q = json.load(open(qwen_path, encoding='utf-8'))
        added = {t['content']: t for t in q['added_tokens']}
        q['added_tokens'] = [{**added[s], 'id': self.special[s]} for s in SPECIALS]
        regular = {s: i for s, i in self.vocab.items() if s not in self.special}
        q['model'] = {**q['model'], 'vocab': regular, 'merges': [[a, b] for a, b in self.merges]}
        return q
