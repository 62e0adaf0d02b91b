#!/usr/bin/env python3
"""Tokenizers trained here with the reference libraries, and the strings and
ids Tern's tokenizer must reproduce.

  tokenizer_ref.py train DIR          byte-level BPE (LLaMA-3 regex) with
                                      Hugging Face tokenizers in DIR/bpe/,
                                      SentencePiece BPE models in DIR/spm/
                                      (and two Tern refuses), and a
                                      SentencePiece-style tokenizer.json in
                                      DIR/hfspm/
  tokenizer_ref.py strings FILE       the test strings (JSON array)
  tokenizer_ref.py fuzz FILE          5,000 strings of random code points
  tokenizer_ref.py default-pre SRC DST
                                      SRC's tokenizer.json with llama.cpp's
                                      "default" pre-tokenizer (its four
                                      expressions, each splitting the pieces
                                      further): what llama.cpp uses for a
                                      GGUF without tokenizer.ggml.pre
  tokenizer_ref.py check KIND TOK STRINGS OURS
                                      compares tern-tokenize's output OURS
                                      with the library's ids (and decoded
                                      text) for every string; KIND is hf or
                                      spm
"""
import json
import os
import random
import sys

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"
                  r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
                  r"\s+(?!\S)|\s+")
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
# llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT regex_exprs (llama-vocab.cpp).
LLAMA_CPP_DEFAULT = [r"[\p{P}\$\+<=>\^~\|]+",
                     r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)",
                     r"\p{N}+",
                     r"[0-9][0-9][0-9]"]

ENGLISH = ("the quick brown fox jumps over a lazy dog while we are testing "
           "tokenizers It's They're we've I'm you'll he'd DON'T I'LL "
           "compiler ternary weights activation quantization model").split()
CODE = ["def f(x):\n    return x**2", "for (int i = 0; i < n; ++i) {",
        "if x != None and y >= 3:", "std::vector<int32_t> ids;",
        "#include <stdio.h>", "a[i] += b[j] * 0x1F;", "print(\"hi\\n\")",
        "    }\n}\n", "SELECT * FROM t WHERE id=42;", "λx.x → y"]
SCRIPTS = ["Größe über Straße café naïve façade", "Привет мир как дела",
           "Καλημέρα κόσμε", "مرحبا بالعالم", "שלום עולם",
           "नमस्ते दुनिया", "你好世界，我们正在测试。", "日本語のテキストです",
           "안녕하세요 세계", "สวัสดีชาวโลก", "Tiếng Việt có dấu"]
EMOJI = ["🎉", "🚀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "😀😃😄", "🧪"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0",
          "\u3000", "    ", "\t\t", "\x0b", "\x85", "\u1680", "\u2028",
          "\u180e"]  # U+180E: not White_Space since Unicode 6.3
NUMBERS = ["0", "7", "42", "123", "1234", "12345678", "3.14159", "1,000",
           "2026-11-22", "-5", "1e-5"]
PUNCT = [".", ",", "!", "?", "...", "'", "\"", "(", ")", "--", ":", ";",
         "''", "'s", "'S"]


def make_strings(rng, count, specials=True):
    out = []
    pools = [ENGLISH, CODE, SCRIPTS, EMOJI, SPACES, NUMBERS, PUNCT]
    for i in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            pool = rng.choice(pools)
            parts.append(rng.choice(pool))
            if rng.random() < 0.6:
                parts.append(" ")
        if specials and rng.random() < 0.15:
            parts.insert(rng.randint(0, len(parts)), rng.choice(SPECIALS))
        s = "".join(parts)
        if i % 10 == 0:  # some start or end with whitespace runs
            s = rng.choice(SPACES) + s + rng.choice(SPACES)
        out.append(s)
    out += ["", " ", "  ", "\n", "a", "A", "'s", "  leading", "trailing  ",
            "x" * 50, "🎉" * 5, "\u00e9" * 7]
    return out


# Code point ranges for random strings: ASCII and controls, Latin,
# combining marks, Greek, Cyrillic, Hebrew/Arabic, Devanagari, Thai, Hangul
# jamo, punctuation and spaces, kana, CJK, syllables, emoji, selectors, and
# the spaces regex engines disagree on.
FUZZ_RANGES = [(0x20, 0x7e), (0x9, 0xd), (0xa0, 0x24f), (0x300, 0x36f),
               (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff), (0x900, 0x97f),
               (0xe00, 0xe7f), (0x1100, 0x11ff), (0x2000, 0x206f),
               (0x3000, 0x30ff), (0x4e00, 0x4fff), (0xac00, 0xad00),
               (0x1f300, 0x1f64f), (0xfe00, 0xfe0f), (0x1680, 0x1680),
               (0x180e, 0x180e), (0x85, 0x85)]


def fuzz_strings(rng, count):
    return ["".join(chr(rng.randint(*rng.choice(FUZZ_RANGES)))
                    for _ in range(rng.randint(1, 40))) for _ in range(count)]


def corpus(rng):
    return make_strings(rng, 4000, specials=False)


def train(root):
    from tokenizers import Regex, Tokenizer, decoders, models, \
        pre_tokenizers, processors, trainers
    import sentencepiece as spm
    rng = random.Random(1)
    text = corpus(rng)

    # Byte-level BPE with the LLaMA-3 pre-tokenizer.
    d = os.path.join(root, "bpe")
    os.makedirs(d, exist_ok=True)
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1500, special_tokens=SPECIALS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(text, trainer)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)])
    tok.save(os.path.join(d, "tokenizer.json"))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|begin_of_text|>",
                   "eos_token": "<|end_of_text|>",
                   "chat_template": "{{ bos_token }}{% for m in messages %}"
                   "{{ m['role'] | capitalize }}: {{ m['content'] }}"
                   "<|eot_id|>{% endfor %}Assistant: "}, f)

    # SentencePiece BPE as LLaMA's: identity normalization, byte fallback.
    d = os.path.join(root, "spm")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "corpus.txt"), "w") as f:
        for s in text:
            if s.strip():
                f.write(s.replace("\n", " ") + "\n")
    spm.SentencePieceTrainer.train(
        input=os.path.join(d, "corpus.txt"),
        model_prefix=os.path.join(d, "tokenizer"), model_type="bpe",
        vocab_size=1000, normalization_rule_name="identity",
        byte_fallback=True, add_dummy_prefix=True,
        remove_extra_whitespaces=False, character_coverage=0.995,
        split_digits=True, allow_whitespace_only_pieces=True,
        minloglevel=2)
    # ... and with SentencePiece's defaults for spaces, no byte fallback.
    spm.SentencePieceTrainer.train(
        input=os.path.join(d, "corpus.txt"),
        model_prefix=os.path.join(d, "plain"), model_type="bpe",
        vocab_size=700, normalization_rule_name="identity",
        add_dummy_prefix=False, remove_extra_whitespaces=True,
        minloglevel=2)
    # Models Tern refuses: unigram, and NFKC normalization.
    for name, kind, rule in [("unigram", "unigram", "identity"),
                             ("nfkc", "bpe", "nmt_nfkc")]:
        spm.SentencePieceTrainer.train(
            input=os.path.join(d, "corpus.txt"),
            model_prefix=os.path.join(d, name), model_type=kind,
            vocab_size=700, normalization_rule_name=rule, minloglevel=2)

    # A SentencePiece-style tokenizer.json (Metaspace, byte fallback) made
    # with Hugging Face tokenizers.
    d = os.path.join(root, "hfspm")
    os.makedirs(d, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True,
                               fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    tok.decoder = decoders.Sequence([decoders.Metaspace(prepend_scheme="first"),
                                     decoders.ByteFallback(), decoders.Fuse()])
    byte_tokens = ["<0x%02X>" % b for b in range(256)]
    trainer = trainers.BpeTrainer(
        vocab_size=1200, show_progress=False,
        special_tokens=["<unk>", "<s>", "</s>"] + byte_tokens,
        limit_alphabet=150)
    tok.train_from_iterator(text, trainer)
    spec = json.loads(tok.to_str())
    for t in spec["added_tokens"]:  # byte tokens are vocabulary, not added
        if t["content"].startswith("<0x"):
            t["special"] = False
    spec["added_tokens"] = [t for t in spec["added_tokens"]
                            if not t["content"].startswith("<0x")]
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(spec, f, ensure_ascii=False)


def reference(kind, path, strings, parse_special):
    if kind == "spm":
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=path)
        ids = [sp.encode(s) for s in strings]
        return ids, [sp.decode(i) for i in ids]
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    ids = [tok.encode(s).ids for s in strings]
    return ids, [tok.decode(i, skip_special_tokens=True) for i in ids]


def check(kind, path, strings_path, ours_path):
    with open(strings_path) as f:
        strings = json.load(f)
    with open(ours_path) as f:
        ours = json.load(f)
    ids, texts = reference(kind, path, strings, True)
    bad = [i for i, s in enumerate(strings) if ours[i]["ids"] != ids[i]]
    bad_text = [i for i, s in enumerate(strings) if ours[i]["text"] != texts[i]]
    for i in bad[:5]:
        print("ids differ for %r:\n  ours %s\n  ref  %s" %
              (strings[i], ours[i]["ids"], ids[i]))
    for i in bad_text[:5]:
        print("decoded text differs for %r:\n  ours %r\n  ref  %r" %
              (strings[i], ours[i]["text"], texts[i]))
    tokens = sum(len(i) for i in ids)
    print("%s: %d strings, %d tokens: %d differ in ids, %d in decoded text" %
          (kind, len(strings), tokens, len(bad), len(bad_text)))
    return 1 if bad or bad_text else 0


def main():
    if sys.argv[1] == "train":
        train(sys.argv[2])
    elif sys.argv[1] == "strings":
        with open(sys.argv[2], "w") as f:
            json.dump(make_strings(random.Random(2), 1200), f)
    elif sys.argv[1] == "fuzz":
        with open(sys.argv[2], "w") as f:
            json.dump(fuzz_strings(random.Random(5), 5000), f)
    elif sys.argv[1] == "default-pre":
        with open(sys.argv[2]) as f:
            d = json.load(f)
        d["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated",
             "invert": False} for p in LLAMA_CPP_DEFAULT] + [
            {"type": "ByteLevel", "add_prefix_space": False,
             "trim_offsets": True, "use_regex": False}]}
        with open(sys.argv[3], "w") as f:
            json.dump(d, f)
    elif sys.argv[1] == "check":
        sys.exit(check(*sys.argv[2:6]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
