"""One seed in the config fixes everything random.

Each random step derives its own seed from the config seed and a few keys that name
the step (``derive(seed, "dnn", "lr0.3_decay5e-05", 3)``), so adding a grid value
never changes the random numbers of the jobs that existed before.
"""

import hashlib


def derive(seed: int, *keys) -> int:
    """A 31-bit seed from ``seed`` and ``keys`` (SHA-256 of their text)."""
    text = "\x1f".join([str(int(seed)), *map(str, keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF
