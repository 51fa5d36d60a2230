# tools: operator tools, installed to $(SBINDIR) with their man pages.
#
# conex-dump: ConEx decoder for captures. Its pure parts (pcap.c, pkt.c,
# acct.c) are also linked into the unit test tests/unit/test_dump.c and the
# libFuzzer harness tests/fuzz/fuzz_pcap.c, whose generic rules (tests/build.mk)
# link only libconex. The unit test gets its own link rule (the objects must
# come before libconex.a); the fuzzer links libconex as objects, so extra
# prerequisites are enough there.
CXDUMP_DIR  := tools/conex-dump
CXDUMP_PURE := $(CXDUMP_DIR)/pcap.c $(CXDUMP_DIR)/pkt.c $(CXDUMP_DIR)/acct.c
CXDUMP      := $(O)/$(CXDUMP_DIR)/conex-dump

BINS += $(CXDUMP)
MAN8 += tools/conex-dump.8

$(CXDUMP): $(O)/$(CXDUMP_DIR)/main.o $(CXDUMP_PURE:%.c=$(O)/%.o) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(O)/tests/unit/test_dump: $(O)/tests/unit/test_dump.o $(CXDUMP_PURE:%.c=$(O)/%.o) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
$(O)/tests/unit/test_dump.o: CPPFLAGS += -I$(CXDUMP_DIR)

# build-fuzz/fuzz_pcap: the pattern rule's link line takes these as well.
$(OF)/fuzz_pcap: $(CXDUMP_PURE:%.c=$(OF)/%.o)
$(OF)/tests/fuzz/fuzz_pcap.o: CPPFLAGS += -I$(CXDUMP_DIR)

# conexctl: the operators' command line over the daemons' control sockets.
CXCTL_DIR  := tools/conexctl
CXCTL_SRCS := main.c reply.c print.c
CXCTL      := $(O)/$(CXCTL_DIR)/conexctl

BINS += $(CXCTL)
MAN8 += tools/conexctl.8

$(O)/$(CXCTL_DIR)/%.o: CPPFLAGS += $(COMMON_CPPFLAGS)

$(CXCTL): $(CXCTL_SRCS:%.c=$(O)/$(CXCTL_DIR)/%.o) $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# test_conexctl and fuzz_conexctl: the reply parser and the printers (pure;
# main.c, which talks to the sockets, stays out). The unit test also links
# common's text writer (out.o, from the archive) to build replies exactly
# as the daemons do; the fuzzer links libconex as objects, so extra
# prerequisites are enough there (as for fuzz_pcap above).
CXCTL_PURE := $(CXCTL_DIR)/reply.c $(CXCTL_DIR)/print.c

$(O)/tests/unit/test_conexctl: $(O)/tests/unit/test_conexctl.o \
		$(CXCTL_PURE:%.c=$(O)/%.o) $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
$(O)/tests/unit/test_conexctl.o: CPPFLAGS += -I$(CXCTL_DIR) $(COMMON_CPPFLAGS)

$(OF)/fuzz_conexctl: $(CXCTL_PURE:%.c=$(OF)/%.o)
$(OF)/tests/fuzz/fuzz_conexctl.o: CPPFLAGS += -I$(CXCTL_DIR)
