list(APPEND TOOLS_SRCS bench_command.cc)
