# common: support code the daemons share that does I/O, so it stays out of
# the pure libconex (control socket, configuration files). Included by the
# top-level Makefile before the daemons' build.mk files, which link
# $(COMMON_OBJS) and compile with $(COMMON_CPPFLAGS) to include
# "common/<name>.h".
COMMON_DIR      := $(O)/common
COMMON_SRCS     := ctl.c conffile.c
COMMON_OBJS     := $(COMMON_SRCS:%.c=$(COMMON_DIR)/%.o)
COMMON_CPPFLAGS := -iquote .
