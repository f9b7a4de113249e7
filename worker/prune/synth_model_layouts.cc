#include "worker/prune/synth_model_layouts.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace cohort::worker::prune {
namespace {

using U = uint64_t;

class Builder {
 public:
  explicit Builder(const SynthOptions& o) : o_(o) {}

  void Add(const std::string& name, std::vector<U> shape, float scale = 0.05f,
           Dtype dtype = Dtype::kBF16) {
    out_.tensors.push_back({name, dtype, std::move(shape), scale});
  }
  void Attention(const std::string& p) {
    const U h = o_.hidden;
    Add(p + "self_attn.q_proj.weight", {h, h});
    Add(p + "self_attn.k_proj.weight", {h / 2, h});
    Add(p + "self_attn.v_proj.weight", {h / 2, h});
    Add(p + "self_attn.o_proj.weight", {h, h});
  }
  void Mlp(const std::string& p, U inter) {
    const U h = o_.hidden;
    Add(p + "gate_proj.weight", {inter, h});
    Add(p + "up_proj.weight", {inter, h});
    Add(p + "down_proj.weight", {h, inter});
  }
  void Norm(const std::string& name) { Add(name, {U(o_.hidden)}, 1.0f); }

  SynthLayout& out() { return out_; }
  const SynthOptions& o() const { return o_; }

 private:
  const SynthOptions& o_;
  SynthLayout out_;
};

OrderedJson BaseText(const SynthOptions& o, const char* model_type) {
  OrderedJson t = OrderedJson::object();
  t["model_type"] = model_type;
  t["vocab_size"] = o.vocab;
  t["hidden_size"] = o.hidden;
  t["intermediate_size"] = o.intermediate;
  t["moe_intermediate_size"] = o.moe_intermediate;
  t["num_hidden_layers"] = o.layers;
  t["num_attention_heads"] = 4;
  t["num_key_value_heads"] = 2;
  t["head_dim"] = o.hidden / 4;
  t["hidden_act"] = "silu";
  t["max_position_embeddings"] = 32768;
  t["rope_theta"] = 1000000.0;
  t["rms_norm_eps"] = 1e-06;
  t["tie_word_embeddings"] = false;
  t["attention_bias"] = false;
  t["torch_dtype"] = "bfloat16";
  return t;
}

void Gemma4(Builder& b) {
  const SynthOptions& o = b.o();
  const U h = o.hidden, e = o.experts, i = o.moe_intermediate;
  b.Add("model.language_model.embed_tokens.weight", {U(o.vocab), h}, 0.5f);
  for (int l = 0; l < o.layers; ++l) {
    std::string p = absl::StrCat("model.language_model.layers.", l, ".");
    b.Norm(p + "input_layernorm.weight");
    b.Attention(p);
    b.Add(p + "self_attn.q_norm.weight", {h / 4}, 1.0f);
    b.Add(p + "self_attn.k_norm.weight", {h / 4}, 1.0f);
    b.Norm(p + "post_attention_layernorm.weight");
    b.Norm(p + "pre_feedforward_layernorm.weight");
    b.Mlp(p + "mlp.", U(o.intermediate));
    b.Norm(p + "post_feedforward_layernorm_1.weight");
    b.Add(p + "router.proj.weight", {e, h}, 0.2f);
    b.Add(p + "router.scale", {h}, 1.0f);
    b.Add(p + "router.per_expert_scale", {e}, 1.0f);
    b.Norm(p + "pre_feedforward_layernorm_2.weight");
    b.Add(p + "experts.gate_up_proj", {e, 2 * i, h});
    b.Add(p + "experts.down_proj", {e, h, i});
    b.Norm(p + "post_feedforward_layernorm_2.weight");
    b.Norm(p + "post_feedforward_layernorm.weight");
    b.Add(p + "layer_scalar", {1}, 1.0f);
    b.out().moe_layers.push_back(l);
  }
  b.Norm("model.language_model.norm.weight");
  const std::string v = "model.vision_tower.encoder.layers.0.";
  b.Add(v + "mlp.gate_proj.linear.weight", {32, 24});
  b.Add(v + "mlp.up_proj.linear.weight", {32, 24});
  b.Add(v + "mlp.down_proj.linear.weight", {24, 32});
  b.Add(v + "input_layernorm.weight", {24}, 1.0f);
  b.Add("model.embed_vision.embedding_projection.weight", {h, 24});
  OrderedJson c = OrderedJson::object();
  c["architectures"] = {"Gemma4ForConditionalGeneration"};
  c["model_type"] = "gemma4";
  OrderedJson t = BaseText(o, "gemma4_text");
  t["num_experts"] = o.experts;
  t["top_k_experts"] = o.top_k;
  t["enable_moe_block"] = true;
  t["hidden_activation"] = "gelu_pytorch_tanh";
  t.erase("hidden_act");
  t.erase("rope_theta");
  t["global_head_dim"] = o.hidden / 4;
  t["num_global_key_value_heads"] = 2;
  t["num_kv_shared_layers"] = 0;
  t["sliding_window"] = 512;
  t["final_logit_softcapping"] = 30.0;
  t["tie_word_embeddings"] = true;
  OrderedJson types = OrderedJson::array();
  for (int l = 0; l < o.layers; ++l) {
    // Real Gemma 4: five sliding-window layers, then one global layer.
    types.push_back(l % 6 == 5 || l == o.layers - 1 ? "full_attention"
                                                    : "sliding_attention");
  }
  t["layer_types"] = types;
  t["rope_parameters"] = {
      {"full_attention",
       {{"rope_type", "proportional"}, {"partial_rotary_factor", 0.25},
        {"rope_theta", 1000000.0}}},
      {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}};
  c["text_config"] = t;
  c["vision_config"] = {{"model_type", "gemma4_vision"}, {"hidden_size", 24}};
  c["torch_dtype"] = "bfloat16";
  b.out().config = c;
}

// Llama-style decoder around a per-layer MoE block written by `moe`.
template <typename Moe>
void Decoder(Builder& b, const std::string& root, Moe moe) {
  const SynthOptions& o = b.o();
  b.Add(root + "embed_tokens.weight", {U(o.vocab), U(o.hidden)}, 0.5f);
  for (int l = 0; l < o.layers; ++l) {
    std::string p = absl::StrCat(root, "layers.", l, ".");
    b.Norm(p + "input_layernorm.weight");
    b.Attention(p);
    b.Norm(p + "post_attention_layernorm.weight");
    if (moe(p, l)) b.out().moe_layers.push_back(l);
  }
  b.Norm(root + "norm.weight");
}

void Mixtral(Builder& b) {
  const SynthOptions& o = b.o();
  const U h = o.hidden, i = o.moe_intermediate;
  Decoder(b, "model.", [&](const std::string& p, int) {
    b.Add(p + "block_sparse_moe.gate.weight", {U(o.experts), h}, 0.2f);
    for (int e = 0; e < o.experts; ++e) {
      std::string q = absl::StrCat(p, "block_sparse_moe.experts.", e, ".");
      b.Add(q + "w1.weight", {i, h});
      b.Add(q + "w2.weight", {h, i});
      b.Add(q + "w3.weight", {i, h});
    }
    return true;
  });
  b.Add("lm_head.weight", {U(o.vocab), h});
  OrderedJson c = BaseText(o, "mixtral");
  c["architectures"] = {"MixtralForCausalLM"};
  // Mixtral's config has one FFN width and it is the experts' (there is no
  // dense or shared MLP); a second key would declare a shape no tensor has.
  c["intermediate_size"] = o.moe_intermediate;
  c.erase("moe_intermediate_size");
  c["sliding_window"] = nullptr;
  c["router_aux_loss_coef"] = 0.02;
  c["num_local_experts"] = o.experts;
  c["num_experts_per_tok"] = o.top_k;
  b.out().config = c;
}

void Qwen(Builder& b) {
  const SynthOptions& o = b.o();
  const U h = o.hidden;
  Decoder(b, "model.", [&](const std::string& p, int) {
    b.Add(p + "mlp.gate.weight", {U(o.experts), h}, 0.2f);
    for (int e = 0; e < o.experts; ++e) {
      b.Mlp(absl::StrCat(p, "mlp.experts.", e, "."), U(o.moe_intermediate));
    }
    b.Mlp(p + "mlp.shared_expert.", U(o.intermediate));
    b.Add(p + "mlp.shared_expert_gate.weight", {1, h});
    return true;
  });
  b.Add("lm_head.weight", {U(o.vocab), h});
  OrderedJson c = BaseText(o, "qwen2_moe");
  c["architectures"] = {"Qwen2MoeForCausalLM"};
  c["num_experts"] = o.experts;
  c["num_experts_per_tok"] = o.top_k;
  c["norm_topk_prob"] = false;
  c["shared_expert_intermediate_size"] = o.intermediate;
  c["decoder_sparse_step"] = 1;
  c["mlp_only_layers"] = OrderedJson::array();
  b.out().config = c;
}

void DeepseekV3(Builder& b) {
  const SynthOptions& o = b.o();
  const U h = o.hidden, i = o.moe_intermediate;
  auto fp8 = [&](const std::string& p, U rows, U cols) {
    b.Add(p + ".weight", {rows, cols}, 0, Dtype::kF8E4M3);
    b.Add(p + ".weight_scale_inv", {(rows + 127) / 128, (cols + 127) / 128},
          0.01f, Dtype::kF32);
  };
  Decoder(b, "model.", [&](const std::string& p, int l) {
    if (l < o.first_dense_layers) {
      b.Mlp(p + "mlp.", U(o.intermediate));
      return false;
    }
    b.Add(p + "mlp.gate.weight", {U(o.experts), h}, 0.2f);
    b.Add(p + "mlp.gate.e_score_correction_bias", {U(o.experts)}, 0.1f,
          Dtype::kF32);
    for (int e = 0; e < o.experts; ++e) {
      std::string q = absl::StrCat(p, "mlp.experts.", e, ".");
      fp8(q + "gate_proj", i, h);
      fp8(q + "up_proj", i, h);
      fp8(q + "down_proj", h, i);
    }
    b.Mlp(p + "mlp.shared_experts.", U(o.moe_intermediate));
    return true;
  });
  b.Add("lm_head.weight", {U(o.vocab), h});
  OrderedJson c = BaseText(o, "deepseek_v3");
  c["architectures"] = {"DeepseekV3ForCausalLM"};
  c["n_routed_experts"] = o.experts;
  c["n_shared_experts"] = 1;
  c["num_experts_per_tok"] = o.top_k;
  c["n_group"] = o.n_group;
  c["topk_group"] = o.n_group > 1 ? o.n_group / 2 : 1;
  c["first_k_dense_replace"] = o.first_dense_layers;
  // As the real checkpoint declares its FP8 blocks: a converter dequantizes
  // the experts by it (llama.cpp's, with transformers, otherwise counted the
  // weight_scale_inv tensors as experts and failed).
  OrderedJson quant = OrderedJson::object();
  quant["activation_scheme"] = "dynamic";
  quant["fmt"] = "e4m3";
  quant["quant_method"] = "fp8";
  quant["weight_block_size"] = {128, 128};
  c["quantization_config"] = quant;
  b.out().config = c;
}

void GptOss(Builder& b) {
  const SynthOptions& o = b.o();
  const U h = o.hidden, i = o.moe_intermediate, e = o.experts;
  Decoder(b, "model.", [&](const std::string& p, int) {
    b.Add(p + "mlp.router.weight", {e, h}, 0.2f);
    b.Add(p + "mlp.router.bias", {e}, 0.1f);
    std::string x = p + "mlp.experts.";
    b.Add(x + "gate_up_proj_blocks", {e, 2 * i, h / 32, 16}, 0, Dtype::kU8);
    b.Add(x + "gate_up_proj_scales", {e, 2 * i, h / 32}, 0, Dtype::kU8);
    b.Add(x + "gate_up_proj_bias", {e, 2 * i});
    b.Add(x + "down_proj_blocks", {e, h, i / 32, 16}, 0, Dtype::kU8);
    b.Add(x + "down_proj_scales", {e, h, i / 32}, 0, Dtype::kU8);
    b.Add(x + "down_proj_bias", {e, h});
    return true;
  });
  b.Add("lm_head.weight", {U(o.vocab), h});
  OrderedJson c = BaseText(o, "gpt_oss");
  c["architectures"] = {"GptOssForCausalLM"};
  c["num_local_experts"] = o.experts;
  c["experts_per_token"] = o.top_k;
  c["sliding_window"] = 128;
  c["layer_types"] = OrderedJson::array();
  for (int l = 0; l < o.layers; ++l) {
    c["layer_types"].push_back(l % 2 == 0 ? "sliding_attention" : "full_attention");
  }
  c["num_experts_per_tok"] = o.top_k;
  b.out().config = c;
}

void Llama4(Builder& b) {
  const SynthOptions& o = b.o();
  const U h = o.hidden, i = o.moe_intermediate, e = o.experts;
  Decoder(b, "language_model.model.", [&](const std::string& p, int) {
    std::string f = p + "feed_forward.";
    b.Add(f + "router.weight", {e, h}, 0.2f);
    b.Add(f + "experts.gate_up_proj", {e, h, 2 * i});
    b.Add(f + "experts.down_proj", {e, i, h});
    b.Mlp(f + "shared_expert.", U(o.intermediate));
    return true;
  });
  b.Add("language_model.lm_head.weight", {U(o.vocab), h});
  OrderedJson c = OrderedJson::object();
  c["architectures"] = {"Llama4ForConditionalGeneration"};
  c["model_type"] = "llama4";
  OrderedJson t = BaseText(o, "llama4_text");
  t["num_local_experts"] = o.experts;
  t["num_experts_per_tok"] = o.top_k;
  t["intermediate_size_mlp"] = o.intermediate;
  t["interleave_moe_layer_step"] = 1;
  c["text_config"] = t;
  b.out().config = c;
}

absl::Status CheckSizes(const SynthOptions& o) {
  if (o.layers < 1 || o.experts < 1 || o.hidden < 4 || o.hidden % 4 != 0 ||
      o.moe_intermediate < 1 || o.intermediate < 1 || o.vocab < 1 ||
      o.top_k < 1 || o.top_k > o.experts) {
    return absl::InvalidArgumentError(
        "synth-model: sizes must be positive, hidden a multiple of 4, and "
        "1 <= top_k <= experts");
  }
  if (o.layout == "gptoss" && (o.hidden % 32 != 0 || o.moe_intermediate % 32 != 0)) {
    return absl::InvalidArgumentError(
        "synth-model: gptoss needs hidden and moe_intermediate multiples of 32 "
        "(MXFP4 blocks)");
  }
  if (o.layout == "deepseekv3" &&
      (o.n_group < 1 || o.experts % o.n_group != 0 ||
       o.first_dense_layers < 0 || o.first_dense_layers >= o.layers)) {
    return absl::InvalidArgumentError(
        "synth-model: deepseekv3 needs experts divisible by n_group and at "
        "least one MoE layer after the dense ones");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SynthLayout> BuildSynthLayout(const SynthOptions& options) {
  if (absl::Status s = CheckSizes(options); !s.ok()) return s;
  Builder b(options);
  const std::string& l = options.layout;
  if (l == "gemma4") {
    Gemma4(b);
  } else if (l == "mixtral") {
    Mixtral(b);
  } else if (l == "qwen3moe") {
    Qwen(b);
  } else if (l == "deepseekv3") {
    DeepseekV3(b);
  } else if (l == "gptoss") {
    GptOss(b);
  } else if (l == "llama4") {
    Llama4(b);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "synth-model: unknown layout \"", l,
        "\" (gemma4, mixtral, qwen3moe, deepseekv3, gptoss, llama4)"));
  }
  return std::move(b.out());
}

}  // namespace cohort::worker::prune
