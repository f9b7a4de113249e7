#!/usr/bin/python3
"""Fake of llama.cpp's convert_hf_to_gguf.py for CI machines without
llama.cpp (see README.md). Reads config.json and the safetensors headers
(never the tensor data) and writes a GGUF v3 with the converter's
architecture name, hyperparameter keys, llama.cpp tensor names, ggml shapes
and types; the data section is zeros.
"""

import argparse
import hashlib
import json
import logging
import os
import re
import struct
import sys
import time
from pathlib import Path

# No __pycache__ beside the fakes in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import fake_faults  # noqa: E402
import fake_tokenizer  # noqa: E402
import gguf_lite as gg  # noqa: E402

TOOL = "convert_hf_to_gguf"
logger = logging.getLogger("hf-to-gguf")

# HF architecture -> (gguf arch, expert count keys, expert used keys).
_EXPERTS = ("num_local_experts", "num_experts", "n_routed_experts")
_USED = ("num_experts_per_tok", "top_k_experts", "experts_per_token",
         "moe_topk")
ARCHES = {
    "Gemma4ForConditionalGeneration": "gemma4",
    "Gemma4ForCausalLM": "gemma4",
    "Qwen3MoeForCausalLM": "qwen3moe",
    "Qwen2MoeForCausalLM": "qwen2moe",
    "MixtralForCausalLM": "llama",
    "LlamaForCausalLM": "llama",
    "DeepseekV2ForCausalLM": "deepseek2",
    "DeepseekV3ForCausalLM": "deepseek2",
    "GptOssForCausalLM": "gpt-oss",
    "OlmoeForCausalLM": "olmoe",
    "Llama4ForConditionalGeneration": "llama4",
    "Qwen3ForCausalLM": "qwen3",
}
OUTTYPES = {"f32": (0, 0), "f16": (1, 1), "bf16": (30, 32), "q8_0": (8, 7),
            "tq1_0": (34, 36), "tq2_0": (35, 37)}
TORCH_DTYPES = {"BF16": "torch.bfloat16", "F16": "torch.float16",
                "F32": "torch.float32", "U8": "torch.uint8",
                "I8": "torch.int8", "I32": "torch.int32", "I64": "torch.int64",
                "F8_E4M3": "torch.float8_e4m3fn"}

# Layer tensors: HF suffix (after "layers.N.") -> llama.cpp suffix.
LAYER_MAP = {
    "input_layernorm.weight": "attn_norm.weight",
    "pre_feedforward_layernorm.weight": "ffn_norm.weight",
    "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
    "pre_feedforward_layernorm_2.weight": "pre_ffw_norm_2.weight",
    "post_feedforward_layernorm_1.weight": "post_ffw_norm_1.weight",
    "post_feedforward_layernorm_2.weight": "post_ffw_norm_2.weight",
    "layer_scalar": "layer_output_scale.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "self_attn.q_a_proj.weight": "attn_q_a.weight",
    "self_attn.q_b_proj.weight": "attn_q_b.weight",
    "self_attn.q_a_layernorm.weight": "attn_q_a_norm.weight",
    "self_attn.kv_a_proj_with_mqa.weight": "attn_kv_a_mqa.weight",
    "self_attn.kv_a_layernorm.weight": "attn_kv_a_norm.weight",
    "self_attn.kv_b_proj.weight": "attn_kv_b.weight",
    "self_attn.sinks": "attn_sinks.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "mlp.gate.weight": "ffn_gate_inp.weight",
    "block_sparse_moe.gate.weight": "ffn_gate_inp.weight",
    "mlp.router.weight": "ffn_gate_inp.weight",
    "mlp.router.bias": "ffn_gate_inp.bias",
    "router.proj.weight": "ffn_gate_inp.weight",
    "router.scale": "ffn_gate_inp.scale",
    "router.per_expert_scale": "ffn_down_exps.scale",
    "experts.gate_up_proj": "ffn_gate_up_exps.weight",
    "experts.down_proj": "ffn_down_exps.weight",
    "mlp.experts.gate_up_proj_blocks": "ffn_gate_up_exps.weight",
    "mlp.experts.down_proj_blocks": "ffn_down_exps.weight",
    "mlp.experts.gate_up_proj_bias": "ffn_gate_up_exps.bias",
    "mlp.experts.down_proj_bias": "ffn_down_exps.bias",
    "mlp.gate.e_score_correction_bias": "exp_probs_b.bias",
    "mlp.shared_expert_gate.weight": "ffn_gate_inp_shexp.weight",
    "feed_forward.router.weight": "ffn_gate_inp.weight",
    "feed_forward.experts.gate_up_proj": "ffn_gate_up_exps.weight",
    "feed_forward.experts.down_proj": "ffn_down_exps.weight",
}
for _p in ("gate", "up", "down"):
    for _shared in ("mlp.shared_expert.", "mlp.shared_experts.",
                    "feed_forward.shared_expert."):
        LAYER_MAP[f"{_shared}{_p}_proj.weight"] = f"ffn_{_p}_shexp.weight"
# Per-expert tensors, stacked into one [E, ...] tensor like the converter.
EXPERT_RE = re.compile(
    r"(?:mlp|block_sparse_moe)\.experts\.(\d+)\.(gate_proj|up_proj|down_proj|w1|w2|w3)\.weight$")
EXPERT_PART = {"gate_proj": "gate", "w1": "gate", "up_proj": "up", "w3": "up",
               "down_proj": "down", "w2": "down"}
SKIP_PREFIXES = ("vision_tower.", "embed_vision.", "audio_tower.",
                 "embed_audio.", "multi_modal_projector.", "vision_model.")
MXFP4_BLOCKS = re.compile(r"_blocks$")


def parse_args():
    p = argparse.ArgumentParser(
        description="Convert a huggingface model to a GGML compatible file")
    p.add_argument("model", type=Path, help="directory containing model file")
    p.add_argument("--outfile", type=Path, help="path to write to")
    p.add_argument("--outtype", type=str, default="f16",
                   choices=["f32", "f16", "bf16", "q8_0", "tq1_0", "tq2_0", "auto"],
                   help="output format")
    p.add_argument("--vocab-only", action="store_true")
    p.add_argument("--bigendian", action="store_true")
    p.add_argument("--use-temp-file", action="store_true")
    p.add_argument("--no-lazy", action="store_true")
    p.add_argument("--model-name", type=str, default=None)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--split-max-tensors", type=int, default=0)
    p.add_argument("--split-max-size", type=str, default="0")
    return p.parse_args()


def load_config(dir_model):
    path = dir_model / "config.json"
    if not path.is_file():
        # What the real script logs when transformers' AutoConfig fails,
        # before open() raises FileNotFoundError (a traceback, exit 1).
        logger.warning(f"Failed to load model config from {dir_model}: "
                       f"{dir_model} does not appear to have a file named "
                       f"config.json.")
        logger.warning("Trying to load config.json instead")
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)


def safetensors_parts(dir_model):
    index = dir_model / "model.safetensors.index.json"
    if index.is_file():
        with open(index, encoding="utf-8") as f:
            names = sorted(set(json.load(f)["weight_map"].values()))
        return [dir_model / n for n in names]
    parts = sorted(dir_model.glob("*.safetensors"))
    if not parts:
        raise FileNotFoundError(f"No model weights found in {dir_model}")
    return parts


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > 100_000_000:
            raise ValueError(f"{path}: header too large ({n} bytes)")
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header


def text_config(config):
    return config.get("text_config", config)


def first_key(cfg, keys):
    for k in keys:
        if k in cfg:
            return cfg[k]
    return None


def map_name(name, arch):
    """llama.cpp name for an HF tensor name; None to skip; ('expert', ...)
    for one expert's slice of a stacked tensor."""
    for prefix in ("model.language_model.", "language_model.model.",
                   "language_model.", "model."):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if name.startswith(SKIP_PREFIXES) or name.endswith("rotary_emb.inv_freq"):
        return None
    if name.endswith("_scales") and "experts." in name:
        return None  # MXFP4 scales fold into the mxfp4 tensor
    if name == "embed_tokens.weight":
        return "token_embd.weight"
    if name == "norm.weight":
        return "output_norm.weight"
    if name == "lm_head.weight":
        return "output.weight"
    m = re.match(r"layers\.(\d+)\.(.+)$", name)
    if m:
        bid, rest = m.group(1), m.group(2)
        e = EXPERT_RE.match(rest)
        if e:
            return ("expert", int(bid), EXPERT_PART[e.group(2)], int(e.group(1)))
        if rest == "post_attention_layernorm.weight":
            # Gemma has a norm after attention and another before the FFN.
            post = "post_attention_norm" if arch.startswith("gemma") else "ffn_norm"
            return f"blk.{bid}.{post}.weight"
        if rest in LAYER_MAP:
            return f"blk.{bid}.{LAYER_MAP[rest]}"
    raise ValueError(f"Can not map tensor {name!r}")


def ggml_dims(name, shape, dtype):
    dims = list(reversed(shape))
    if MXFP4_BLOCKS.search(name):  # [E, rows, H/32, 16] bytes -> [H, rows, E]
        return [dims[1] * 32] + dims[2:]
    return dims or [1]


def out_type(new_name, dims, outtype, src_dtype):
    if new_name.endswith("_exps.weight") and src_dtype == "U8":
        return 39  # MXFP4 stays MXFP4
    if len([d for d in dims if d > 1]) <= 1 or "norm" in new_name \
            or "ffn_gate_inp" in new_name or new_name.endswith(".scale"):
        return 0
    ggml_type, _ = OUTTYPES[outtype]
    _, block, _ = gg.GGML_TYPES[ggml_type]
    return ggml_type if dims[0] % block == 0 else 1


def collect_tensors(parts):
    """(hf name, dtype, shape) in the order the converter would see them."""
    for part in parts:
        logger.info(f"gguf: loading model part '{part.name}'")
        header = read_header(part)
        for name in sorted(header):
            yield name, header[name]["dtype"], header[name]["shape"]


def convert_tensors(parts, arch, outtype, n_experts):
    tensors, pending = [], {}
    for name, dtype, shape in collect_tensors(parts):
        new = map_name(name, arch)
        if new is None:
            continue
        if isinstance(new, tuple):
            _, bid, part, e = new
            key = (bid, part)
            pending.setdefault(key, {})[e] = shape
            if len(pending[key]) < n_experts:
                continue
            new = f"blk.{bid}.ffn_{part}_exps.weight"
            shape = [n_experts] + shape
            del pending[key]
        dims = ggml_dims(name, shape, dtype)
        ggml_type = out_type(new, dims, outtype, dtype)
        tensors.append((new, dims, ggml_type, dtype))
    return tensors


def set_metadata(g, config, arch, ftype, dir_model, args, wrong_experts, vocab):
    cfg = text_config(config)
    s = lambda k, v: g.set(k, gg.STRING, v)  # noqa: E731
    u = lambda k, v: g.set(k, gg.UINT32, int(v))  # noqa: E731
    s("general.architecture", arch)
    s("general.type", "model")
    s("general.name", args.model_name or dir_model.name)
    u(f"{arch}.block_count", cfg.get("num_hidden_layers", 0))
    for key, hf in (("context_length", "max_position_embeddings"),
                    ("embedding_length", "hidden_size"),
                    ("feed_forward_length", "intermediate_size"),
                    ("attention.head_count", "num_attention_heads"),
                    ("attention.head_count_kv", "num_key_value_heads"),
                    ("expert_feed_forward_length", "moe_intermediate_size"),
                    ("expert_shared_count", "n_shared_experts"),
                    ("leading_dense_block_count", "first_k_dense_replace")):
        if isinstance(cfg.get(hf), int):
            u(f"{arch}.{key}", cfg[hf])
    experts = first_key(cfg, _EXPERTS)
    if experts is not None:
        u(f"{arch}.expert_count", experts + (1 if wrong_experts else 0))
        used = first_key(cfg, _USED)
        if used is not None:
            u(f"{arch}.expert_used_count", used)
    u("general.file_type", ftype)
    u("general.quantization_version", 2)
    set_vocab(g, vocab, dir_model, config)


def set_vocab(g, vocab, dir_model, config):
    model, tokens, scores, types = vocab
    g.set("tokenizer.ggml.model", gg.STRING, model)
    g.set("tokenizer.ggml.tokens", gg.ARRAY, (gg.STRING, tokens))
    g.set("tokenizer.ggml.scores", gg.ARRAY, (gg.FLOAT32, scores))
    g.set("tokenizer.ggml.token_type", gg.ARRAY, (gg.INT32, types))
    for key, value in fake_tokenizer.special_ids(dir_model, config).items():
        g.set(f"tokenizer.ggml.{key}_token_id", gg.UINT32, value)
    template = fake_tokenizer.chat_template(dir_model)
    if template is not None:
        g.set("tokenizer.chat_template", gg.STRING, template)


def set_fake_provenance(g, dir_model, parts):
    """Fake-only keys. The real converter writes the tensor data, so two
    checkpoints that differ only in their weights give different GGUFs; this
    fake writes zeros, so it records a digest of the shards instead. The kept
    experts of a pruned checkpoint (its expert_drop_metadata.json) let the
    simulated model (fake_model.py) answer as that variant would."""
    h = hashlib.sha256()
    for part in parts:
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    g.set("cohort.fake.source_sha256", gg.STRING, h.hexdigest())
    meta = dir_model / "expert_drop_metadata.json"
    if meta.exists():
        with open(meta, encoding="utf-8") as f:
            keep = json.load(f).get("per_layer_keep")
        if isinstance(keep, dict):
            g.set("cohort.fake.per_layer_keep", gg.STRING, json.dumps(keep, sort_keys=True))


def human(n):
    for unit in ("", "K", "M", "G", "T"):
        if n < 1000:
            return f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.1f}P"


def main():
    args = parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    fault = fake_faults.mode(TOOL)
    dir_model = args.model
    if not dir_model.is_dir():
        logger.error(f"Error: {dir_model} is not a directory")
        sys.exit(1)
    logger.info(f"Loading model: {dir_model.name}")
    config = load_config(dir_model)
    hf_arch = (config.get("architectures") or ["?"])[0]
    logger.info(f"Model architecture: {hf_arch}")
    if hf_arch not in ARCHES:
        logger.error(f"Model {hf_arch} is not supported")
        sys.exit(1)
    arch = ARCHES[hf_arch]
    parts = safetensors_parts(dir_model)
    outtype = args.outtype
    if outtype == "auto":
        first = read_header(parts[0])
        dtype = first[sorted(first)[0]]["dtype"] if first else "BF16"
        outtype = "f16" if dtype == "F16" else "bf16"
        logger.info(f"choosing --outtype {outtype} from first tensor type "
                    f"({TORCH_DTYPES.get(dtype, dtype)})")
    ftype = OUTTYPES[outtype][1]
    n_experts = first_key(text_config(config), _EXPERTS) or 0
    # The real converter reads the vocabulary after the tensors are mapped
    # but fails the same way: no tokenizer in the folder, no GGUF.
    try:
        vocab_size = min(int(text_config(config).get("vocab_size", 0) or 0), 1 << 20)
        vocab = fake_tokenizer.load_vocab(dir_model, hf_arch, vocab_size)
    except (fake_tokenizer.TokenizerError, OSError, ValueError) as e:
        logger.error(f"{e}")
        sys.exit(1)
    logger.info("Exporting model...")
    tensors = convert_tensors(parts, arch, outtype, n_experts)
    width = max([len(t[0]) for t in tensors] + [10]) + 1
    g = gg.Gguf()
    set_metadata(g, config, arch, ftype, dir_model, args,
                 fault == "wrong_expert_count", vocab)
    set_fake_provenance(g, dir_model, parts)
    for new, dims, ggml_type, dtype in tensors:
        logger.info(f"{(new + ','):<{width}} {TORCH_DTYPES.get(dtype, dtype)} --> "
                    f"{gg.GGML_TYPES[ggml_type][0].upper()}, shape = "
                    f"{{{', '.join(str(d) for d in dims)}}}")
        g.tensors.append(gg.Tensor(new, dims, ggml_type))
    logger.info("Set meta model")
    logger.info("Set model parameters")
    logger.info("Set model quantization version")
    logger.info("Set model tokenizer")
    outfile = args.outfile or dir_model / f"{dir_model.name}-{outtype.upper()}.gguf"
    outfile = Path(str(outfile).replace("{ftype}", outtype))
    total = sum(t.nbytes for t in g.tensors)
    logging.getLogger("gguf.gguf_writer").info("Writing the following files:")
    logging.getLogger("gguf.gguf_writer").info(
        f"{outfile}: n_tensors = {len(g.tensors)}, total_size = {human(total)}")
    if args.dry_run:
        return
    start = time.time()
    written = [0]

    def on_tensor(i, t, f):
        fake_faults.step_delay(TOOL)
        if i == len(g.tensors) // 2:
            if fault == "crash":
                f.flush()
                fake_faults.crash()
            if fault == "hang":
                fake_faults.hang()
        written[0] += t.nbytes
        sys.stderr.write(f"\rWriting: {100 * written[0] // max(total, 1):3d}%|"
                         f" {human(written[0])}/{human(total)}")
    if fault == "exit1":
        raise RuntimeError("fake converter failure (COHORT_FAKE_FAIL=exit1)")
    g.write(outfile, on_tensor)
    sys.stderr.write(f"\rWriting: 100%| {human(total)}/{human(total)} "
                     f"[{time.time() - start:05.2f}s]\n")
    logger.info(f"Model successfully exported to {outfile}")


if __name__ == "__main__":
    main()
