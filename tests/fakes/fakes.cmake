# The fake llama-server against the recordings of the real one
# (tests/fakes/conformance_test.py: every recorded request replayed, shapes compared).
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME FakeLlamaServerConformance
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/conformance_test.py)
  set_tests_properties(FakeLlamaServerConformance PROPERTIES TIMEOUT 300)
endif()
