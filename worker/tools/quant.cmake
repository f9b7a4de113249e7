list(APPEND TOOLS_SRCS gguf_info_command.cc quantmap_command.cc)
list(APPEND TOOLS_TESTS quantmap_command_test.cc)
