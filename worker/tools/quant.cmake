list(APPEND TOOLS_SRCS gguf_info_command.cc)
