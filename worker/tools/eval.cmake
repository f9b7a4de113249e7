list(APPEND TOOLS_SRCS score_command.cc prompts_command.cc)
