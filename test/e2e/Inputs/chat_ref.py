#!/usr/bin/env python3
"""Chat templates rendered by transformers, for Tern's Jinja evaluator.

  chat_ref.py conversations OUT.json [--count N]
        N seeded conversations (default 40): an optional system message,
        1 to 6 alternating user/assistant turns, contents with spaces at
        either end, newlines, quotes, braces and non-ASCII text, and
        add_generation_prompt true or false
  chat_ref.py checkpoint TOKENIZER_DIR TEMPLATE OUT_DIR
        a copy of TOKENIZER_DIR whose tokenizer_config.json carries TEMPLATE
        (bos <|begin_of_text|>, eos <|eot_id|>)
  chat_ref.py check TOKENIZER_DIR CONVERSATIONS OURS
        renders every conversation with transformers' apply_chat_template
        (PreTrainedTokenizerFast from TOKENIZER_DIR) and compares with
        tern-tokenize --render's output OURS, byte for byte; an exception
        must be an error on both sides
"""
import json
import os
import random
import shutil
import sys

TEXTS = ["Hello!", "  What is 2 + 2?  ", "Write a poem\nabout the sea.",
         "It's a \"quoted\" {word} and a {{brace}}.", "Καλημέρα κόσμε 👋",
         "\n\nleading newlines", "trailing spaces   ", "tabs\tand\tmore",
         "", "Sure. The answer is 4.", "print('hi')\n", "A" * 50,
         "non-breaking\u00a0space", "mixed 中文 text", "%s %d {0}"]


def conversations(rng, count):
    out = []
    for k in range(count):
        messages = []
        if rng.random() < 0.5:
            messages.append({"role": "system",
                             "content": rng.choice(TEXTS + ["You are terse."])})
        for t in range(rng.randint(1, 6)):
            role = "user" if t % 2 == 0 else "assistant"
            content = " ".join(rng.choice(TEXTS)
                               for _ in range(rng.randint(1, 3)))
            messages.append({"role": role, "content": content})
        out.append({"messages": messages,
                    "add_generation_prompt": rng.random() < 0.7})
    # Two that break the stress template's rules (role order, unknown role).
    out.append({"messages": [{"role": "assistant", "content": "first"}],
                "add_generation_prompt": True})
    out.append({"messages": [{"role": "user", "content": "a"},
                             {"role": "robot", "content": "b"}],
                "add_generation_prompt": False})
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "conversations":
        count = int(sys.argv[4]) if len(sys.argv) > 4 else 40
        with open(sys.argv[2], "w") as f:
            json.dump(conversations(random.Random(11), count), f,
                      ensure_ascii=False)
        return 0
    if cmd == "checkpoint":
        src, template, dst = sys.argv[2:5]
        shutil.rmtree(dst, ignore_errors=True)
        os.makedirs(dst)
        shutil.copy(os.path.join(src, "tokenizer.json"), dst)
        with open(template) as f:
            text = f.read()
        with open(os.path.join(dst, "tokenizer_config.json"), "w") as f:
            json.dump({"bos_token": "<|begin_of_text|>",
                       "eos_token": "<|eot_id|>", "chat_template": text,
                       "tokenizer_class": "PreTrainedTokenizerFast"}, f)
        return 0
    if cmd == "check":
        import transformers
        from transformers import PreTrainedTokenizerFast
        tok_dir, conv_path, ours_path = sys.argv[2:5]
        with open(os.path.join(tok_dir, "tokenizer_config.json")) as f:
            cfg = json.load(f)
        tok = PreTrainedTokenizerFast(
            tokenizer_file=os.path.join(tok_dir, "tokenizer.json"),
            bos_token=cfg["bos_token"], eos_token=cfg["eos_token"])
        tok.chat_template = cfg["chat_template"]
        with open(conv_path) as f:
            convs = json.load(f)
        with open(ours_path) as f:
            ours = json.load(f)
        bad = errors = 0
        for conv, got in zip(convs, ours):
            try:
                want = tok.apply_chat_template(
                    conv["messages"], tokenize=False,
                    add_generation_prompt=conv["add_generation_prompt"])
            except Exception as e:  # raise_exception in the template
                want = {"error": str(e)}
            if isinstance(want, dict) or isinstance(got, dict):
                errors += 1
                if not (isinstance(want, dict) and isinstance(got, dict)):
                    bad += 1
                    print("error on one side only:\n  tern %r\n  transformers %r"
                          % (got, want))
                continue
            if got != want:
                bad += 1
                if bad <= 3:
                    print("differs for %r:\n  tern         %r\n  transformers %r"
                          % (conv, got, want))
        print("transformers %s: %d conversations (%d raise), %d differ" %
              (transformers.__version__, len(convs), errors, bad))
        return 1 if bad or len(ours) != len(convs) else 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
