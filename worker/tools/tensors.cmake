list(APPEND TOOLS_SRCS tensor_commands.cc)
