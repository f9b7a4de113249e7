# The drop-map generator (port of generate_drop_map_v5.py) and its Python-
# compatible JSON reader/writer. Included by worker/prune/CMakeLists.txt.
list(APPEND PRUNE_DROPMAP_SRCS
  contrib_reader.cc
  dropmap.cc
  dropmap_flags.cc
  dropmap_inputs.cc
  dropmap_options.cc
  dropmap_pyset.cc
  dropmap_score.cc
  dropmap_select.cc
  dropmap_summary.cc
  pyjson_reader.cc
  pyjson_value.cc)
list(APPEND PRUNE_DROPMAP_TESTS
  dropmap_test.cc
  dropmap_bad_input_test.cc
  dropmap_golden_test.cc)

# Bit-exact results need numpy's operation order: never fuse a*b+c into an
# FMA, even if someone builds with -march=native.
set_source_files_properties(dropmap_score.cc dropmap_select.cc
  dropmap_summary.cc dropmap_inputs.cc
  PROPERTIES COMPILE_OPTIONS "-ffp-contract=off")
