#!/usr/bin/env python3
"""Reference side of text.test, with Hugging Face tokenizers.

  text_ref.py ids TOKENIZER TEXT          prompt ids, as the executable's
                                          --verbose-prompt prints them
  text_ref.py rendered TOKENIZER FILE     the ids of FILE's text as a chat
                                          template's rendering is encoded
                                          (no BOS added: the text has it)
  text_ref.py decode TOKENIZER IDS OUT    checks that OUT (the executable's
                                          stdout) is IDS (one per line)
                                          decoded
"""
import sys

from tokenizers import Tokenizer


def main():
    tok = Tokenizer.from_file(sys.argv[2])
    if sys.argv[1] in ("ids", "rendered"):
        if sys.argv[1] == "rendered":
            with open(sys.argv[3], encoding="utf-8") as f:
                ids = tok.encode(f.read(), add_special_tokens=False).ids
        else:
            ids = tok.encode(sys.argv[3]).ids
        print("prompt: %d tokens: %s" % (len(ids), " ".join(map(str, ids))))
        return 0
    with open(sys.argv[3]) as f:
        ids = [int(x) for x in f.read().split()]
    with open(sys.argv[4], encoding="utf-8", errors="surrogateescape") as f:
        out = f.read()
    want = tok.decode(ids, skip_special_tokens=True) + "\n"
    if out != want:
        print("stdout %r\n  is not the decoded ids %r" % (out, want))
        return 1
    print("decoded text matches (%d tokens)" % len(ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
