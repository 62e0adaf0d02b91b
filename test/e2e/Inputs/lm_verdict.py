"""The verdict a language-model check prints once the logits' distance is
known (check_checkpoint.py, check_onnx_lm.py): the top-1 token at every
prompt position and the greedy tokens must equal the reference's."""
import numpy as np


def verdict(logits, ref_logits, tokens, ref_tokens, ok, reference):
    """Prints the failures and, if none, the OK line; returns the exit code.
    `ok` carries the caller's own checks; `reference` names the reference."""
    if not (logits.argmax(1) == ref_logits.argmax(1)).all():
        print("FAIL: argmax differs at positions",
              np.nonzero(logits.argmax(1) != ref_logits.argmax(1))[0].tolist())
        ok = False
    if tokens != ref_tokens:
        w = len(reference) + 1
        print(f"FAIL: greedy tokens differ\n  {'tern:':<{w}} {tokens}\n"
              f"  {reference + ':':<{w}} {ref_tokens}")
        ok = False
    if ok:
        print(f"OK: argmax equal at {len(logits)} positions, "
              f"{len(tokens)} greedy tokens identical")
    return 0 if ok else 1
