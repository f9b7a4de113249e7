"""The vocabulary part of the fake converter, as strict as the real one.

llama.cpp's convert_hf_to_gguf.py never invents a tokenizer: it reads
tokenizer.model (SentencePiece) or tokenizer.json (Hugging Face) from the
checkpoint folder, and a folder with neither fails the conversion. A fake
that wrote a synthetic vocabulary instead hid a prune step that lost the
tokenizer. This module reads what the real one reads and fails as it does.
"""

import json
import struct

# SentencePiece piece types -> llama.cpp token types (both use these codes).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

# HF architectures whose converter class reads tokenizer.model first
# (LlamaModel.set_vocab: SentencePiece, then tokenizer.json).
SENTENCEPIECE_FIRST = {"MixtralForCausalLM", "LlamaForCausalLM"}


class TokenizerError(Exception):
    pass


def _varint(data, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise TokenizerError("truncated varint")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise TokenizerError("varint too long")


def _fields(data):
    """(field number, wire type, value) of one protobuf message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(data, pos)
            if pos + n > len(data):
                raise TokenizerError("truncated field")
            value, pos = data[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise TokenizerError(f"wire type {wire}")
        yield field, wire, value


def read_sentencepiece(path):
    """tokens, scores, types of a SentencePiece ModelProto (tokenizer.model)."""
    data = path.read_bytes()
    tokens, scores, types = [], [], []
    try:
        for field, wire, value in _fields(data):
            if field != 1 or wire != 2:
                continue
            piece, score, kind = None, 0.0, NORMAL
            for f, w, v in _fields(value):
                if f == 1 and w == 2:
                    piece = v.decode("utf-8")
                elif f == 2 and w == 5:
                    score = struct.unpack("<f", v)[0]
                elif f == 3 and w == 0:
                    kind = v
            if not piece:
                raise TokenizerError("a piece without text")
            tokens.append(piece)
            scores.append(score)
            types.append(kind)
    except (TokenizerError, UnicodeDecodeError) as e:
        # What sentencepiece's LoadFromFile raises for a broken model file.
        raise TokenizerError(f"Internal: could not parse ModelProto from {path}: {e}")
    if not tokens:
        raise TokenizerError(f"Internal: could not parse ModelProto from {path}")
    return tokens, scores, types


def read_tokenizer_json(path):
    with open(path, encoding="utf-8") as f:
        tok = json.load(f)
    model = tok.get("model") or {}
    vocab = model.get("vocab")
    if isinstance(vocab, dict):
        by_id = sorted(vocab.items(), key=lambda kv: kv[1])
        tokens = [t for t, _ in by_id]
        scores = [0.0] * len(tokens)
    elif isinstance(vocab, list):
        tokens = [t for t, _ in vocab]
        scores = [float(s) for _, s in vocab]
    else:
        raise TokenizerError(f"{path}: no model.vocab")
    types = [NORMAL] * len(tokens)
    for added in tok.get("added_tokens") or []:
        i = added.get("id")
        if isinstance(i, int) and 0 <= i < len(tokens):
            types[i] = CONTROL if added.get("special") else USER_DEFINED
    return tokens, scores, types, model.get("type", "BPE")


def load_vocab(dir_model, hf_arch, vocab_size):
    """(tokenizer model name, tokens, scores, types) padded to vocab_size,
    or TokenizerError with the real converter's complaint."""
    spm = dir_model / "tokenizer.model"
    hf = dir_model / "tokenizer.json"
    if hf_arch in SENTENCEPIECE_FIRST and spm.is_file():
        model = "llama"
        tokens, scores, types = read_sentencepiece(spm)
    elif hf.is_file():
        tokens, scores, types, kind = read_tokenizer_json(hf)
        model = "llama" if kind == "Unigram" else "gpt2"
    elif hf_arch in SENTENCEPIECE_FIRST:
        # SentencePiece, then llama_hf, then gpt2 (AutoTokenizer) all fail.
        raise TokenizerError(
            f"OSError: Can't load tokenizer for '{dir_model}'. Make sure that "
            f"'{dir_model}' is the correct path to a directory containing all "
            f"relevant files for a LlamaTokenizerFast tokenizer. "
            f"(FileNotFoundError: File not found: {spm})")
    else:
        raise TokenizerError(
            f"OSError: Can't load tokenizer for '{dir_model}': no tokenizer.json")
    if vocab_size and len(tokens) > vocab_size:
        raise TokenizerError(
            f"AssertionError: tokenizer has {len(tokens)} tokens, "
            f"config vocab_size is {vocab_size}")
    for i in range(len(tokens), vocab_size or 0):
        tokens.append(f"[PAD{i}]")
        scores.append(-10000.0)
        types.append(UNUSED)
    return model, tokens, scores, types


def chat_template(dir_model):
    jinja = dir_model / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    cfg = dir_model / "tokenizer_config.json"
    if cfg.is_file():
        with open(cfg, encoding="utf-8") as f:
            value = json.load(f).get("chat_template")
        if isinstance(value, str):
            return value
    return None


def special_ids(dir_model, config):
    """bos/eos ids as the real SpecialVocab finds them (config.json ids)."""
    out = {}
    cfg = config.get("text_config", config)
    for key in ("bos", "eos", "pad"):
        value = cfg.get(f"{key}_token_id", config.get(f"{key}_token_id"))
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, int):
            out[key] = value
    return out
