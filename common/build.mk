# common: support code the daemons share that does I/O, so it stays out of
# the pure libconex (control socket, configuration files, NFQUEUE). Included
# by the top-level Makefile before the daemons' and bench's build.mk files,
# which link $(COMMON_OBJS) and compile with $(COMMON_CPPFLAGS) to include
# "common/<name>.h".
#
# $(COMMON_OBJS) is an archive: a program pulls only the members it uses, so
# only the NFQUEUE users (auditor, policer, bench) and the users of nfacct.o
# (the queue rules' counters) need -lnetfilter_queue -lmnl, and a daemon
# without a queue links as before.
COMMON_DIR      := $(O)/common
COMMON_SRCS     := ctl.c conffile.c nfq.c pkt.c out.c run.c sig.c opts.c \
		   hostport.c prom.c metrics.c daemon.c nfacct.c statefile.c
COMMON_MEMBERS  := $(COMMON_SRCS:%.c=$(COMMON_DIR)/%.o)
COMMON_OBJS     := $(COMMON_DIR)/libcxd.a
COMMON_CPPFLAGS := -iquote .

$(COMMON_OBJS): $(COMMON_MEMBERS)
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# test_prom: the exposition writer and ADDRESS:PORT parser, which are pure
# but live here beside the endpoint that uses them.
$(O)/tests/unit/test_prom.o: CPPFLAGS += $(COMMON_CPPFLAGS)
$(O)/tests/unit/test_prom: $(O)/tests/unit/test_prom.o $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lsodium -lm

# test_ctl and test_conffile: the control socket and the configuration
# loader, against real sockets and files.
$(O)/tests/unit/test_ctl.o $(O)/tests/unit/test_conffile.o: CPPFLAGS += $(COMMON_CPPFLAGS)
$(O)/tests/unit/test_ctl $(O)/tests/unit/test_conffile: $(O)/tests/unit/%: \
		$(O)/tests/unit/%.o $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
