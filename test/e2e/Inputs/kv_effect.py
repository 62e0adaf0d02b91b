"""The effect of an f16 KV cache on logits (kv-f16.test): max and mean
|diff| per row over the row's range, argmax agreement, against bounds."""
import sys

import numpy as np

a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
diff = np.abs(a - b).max(1) / (b.max(1) - b.min(1))
same = (a.argmax(1) == b.argmax(1)).mean()
ok = diff.max() < 2e-2 and same >= 0.95
print(f"f16 KV cache: max |diff| / range {diff.max():.1e} (mean {diff.mean():.1e}), "
      f"argmax the same in {same:.3f} of rows: "
      f"{'within bounds' if ok else 'OUT OF BOUNDS'}")
sys.exit(0 if ok else 1)
