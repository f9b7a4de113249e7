# Fuzz targets (libFuzzer) for every parser of untrusted input, and their
# regression replay.
#
# Regression replay (any compiler, always built with the tests): each target
# is linked with regress_main.cc and run by ctest over the checked-in seeds
# and every crash found so far (tests/fuzz/regressions/<target>/).
#
# Fuzzing (clang only): configure a separate build with
#   CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja \
#     -DCOHORT_FUZZ=ON -DCOHORT_SANITIZE=ON -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link
# and run tests/fuzz/run_fuzz.sh (docs/RELIABILITY.md).
option(COHORT_FUZZ "Build the libFuzzer targets in tests/fuzz (clang only)" OFF)

set(COHORT_FUZZ_TARGETS
  "gguf=cohort::worker_quant"
  "safetensors_header=cohort::worker_prune"
  "contrib=cohort::worker_prune"
  "spec=cohort::client_spec"
  "llama_api=cohort::worker_llama"
  "extractors=cohort::worker_eval"
  "json=cohort::common"
  "http_request=cohort::server_http_request")

# valgrind for the replays' memcheck (deploy/install-deps.sh --tests installs
# it); without it those tests are not defined, and the configure says so.
find_program(COHORT_VALGRIND valgrind)
if(COHORT_BUILD_TESTS AND NOT COHORT_VALGRIND)
  message(WARNING "valgrind not found: the fuzz replays run without memcheck "
                  "(apt-get install valgrind)")
endif()

set(fuzz_with_libfuzzer OFF)
if(COHORT_FUZZ)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    set(fuzz_with_libfuzzer ON)
  else()
    message(WARNING "COHORT_FUZZ needs clang (CXX=clang++-14); only the regression replay is built")
  endif()
endif()

foreach(entry ${COHORT_FUZZ_TARGETS})
  string(REPLACE "=" ";" parts ${entry})
  list(GET parts 0 name)
  list(GET parts 1 lib)
  if(COHORT_BUILD_TESTS)
    add_executable(fuzz_${name}_regress fuzz/${name}_fuzz.cc fuzz/regress_main.cc)
    set_target_properties(fuzz_${name}_regress PROPERTIES
      RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
    target_link_libraries(fuzz_${name}_regress PRIVATE ${lib})
    add_test(NAME fuzz.${name}.regressions
      COMMAND fuzz_${name}_regress ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name}
              ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/regressions/${name})
    set_tests_properties(fuzz.${name}.regressions PROPERTIES LABELS fuzz TIMEOUT 120)
    if(COHORT_VALGRIND)
      # The same replay under valgrind's memcheck: reads and writes outside
      # an allocation, use after free and uninitialised values fail it, in
      # the ordinary build. valgrind.supp says what it suppresses. The test
      # command replays them under ASan + UBSan too, in a sanitizer build of
      # the replay binaries alone (replay_sanitized.sh).
      add_test(NAME fuzz.${name}.memcheck
        COMMAND ${COHORT_VALGRIND} -q --error-exitcode=99 --leak-check=no
                --suppressions=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/valgrind.supp
                $<TARGET_FILE:fuzz_${name}_regress>
                ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name}
                ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/regressions/${name})
      set_tests_properties(fuzz.${name}.memcheck PROPERTIES LABELS fuzz TIMEOUT 300)
    endif()
  endif()
  if(fuzz_with_libfuzzer)
    add_executable(fuzz_${name} fuzz/${name}_fuzz.cc)
    set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz)
    target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${name} PRIVATE ${lib})
  endif()
endforeach()
