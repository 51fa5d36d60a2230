# libconex: pure library, one .c per concept, public headers in include/conex/.
LIBCONEX_SRCS := $(sort $(wildcard libconex/*.c))
LIBCONEX_OBJS := $(LIBCONEX_SRCS:%.c=$(O)/%.o)
LIBCONEX      := $(O)/libconex/libconex.a

$(LIBCONEX): $(LIBCONEX_OBJS)
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
