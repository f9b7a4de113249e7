# Tensor half of the pruning core: safetensors I/O, layouts, expert drop,
# upweight, synthetic checkpoints and inspect (paths relative to worker/prune).
list(APPEND PRUNE_TENSOR_SRCS
  safetensors_dtype.cc
  safetensors_reader.cc
  safetensors_writer.cc
  safetensors_index.cc
  layout.cc
  expert_drop_plan.cc
  expert_drop.cc
  upweight.cc
  synth_model.cc
  synth_model_layouts.cc
  synth_tokenizer.cc
  inspect.cc
)
list(APPEND PRUNE_TENSOR_TESTS
  bf16_test.cc
  safetensors_test.cc
  expert_drop_golden_test.cc
  expert_drop_layouts_test.cc
  synth_tokenizer_test.cc
  expert_drop_robustness_test.cc
)
