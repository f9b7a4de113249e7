"""Test-only stand-in for the parts of `transformers` llama.cpp's converter imports.

Debian 12 packages no `transformers`, and its python3-torch (1.13) predates the
float8 dtypes the converter names at import time. With this folder first on
PYTHONPATH (deploy/local/test-real.sh does that when the Python lacks the real
package), convert_hf_to_gguf.py runs for SentencePiece-tokenizer families:

- AutoConfig.from_pretrained raises, and the converter falls back to reading
  config.json itself (conversion/base.py load_hparams);
- AutoTokenizer.from_pretrained raises, so families whose vocabulary needs a
  Hugging Face tokenizer (byte-level BPE, LlamaHfVocab) fail loudly instead
  of converting wrong;
- torch.float8_e4m3fn / float8_e5m2 become placeholders that compare unequal
  to every real dtype, so only a checkpoint that stores float8 tensors (which
  this torch could not read anyway) is affected.

Never used for a real run: a worker with this on its path reports the
converter's Python as missing transformers (cohort-worker probes for it).
"""

import torch

SHIM = True


class _Float8Placeholder:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<placeholder torch.{self.name}: this torch has no float8>"


for _name in ("float8_e4m3fn", "float8_e5m2"):
    if not hasattr(torch, _name):
        setattr(torch, _name, _Float8Placeholder(_name))


class _NotInstalled:
    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        raise OSError(f"transformers is not installed (test shim): {cls.__name__} is unavailable")


class AutoConfig(_NotInstalled):
    pass


class AutoTokenizer(_NotInstalled):
    pass
