list(APPEND TOOLS_SRCS dropmap_command.cc)
list(APPEND TOOLS_TESTS dropmap_command_test.cc)
