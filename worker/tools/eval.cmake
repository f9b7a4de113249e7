list(APPEND TOOLS_SRCS score_command.cc prompts_command.cc)
list(APPEND TOOLS_TESTS prompts_command_test.cc)
