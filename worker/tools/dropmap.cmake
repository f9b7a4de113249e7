list(APPEND TOOLS_SRCS dropmap_command.cc)
