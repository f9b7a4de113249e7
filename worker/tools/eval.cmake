list(APPEND TOOLS_SRCS score_command.cc)
