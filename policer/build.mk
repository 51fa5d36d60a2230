# policer: conex-policer, the sender-side tenant policer, and its client of
# the Redis token bank (issue 5). Sources are listed in POL_SRCS; every
# object under $(POL_DIR) compiles with -Ipolicer and the common headers.
POL_DIR      := $(O)/policer
POL_SRCS     := bank.c config.c net.c main.c datapath.c feedback.c bankglue.c stats.c metrics.c \
		state.c
POL_OBJS      = $(sort $(POL_SRCS:%.c=$(POL_DIR)/%.o))
POL_BIN      := $(POL_DIR)/conex-policer
POL_BANK_OBJ := $(POL_DIR)/bank.o

$(POL_DIR)/%.o: CPPFLAGS += -Ipolicer $(COMMON_CPPFLAGS)

all: $(POL_BANK_OBJ) $(POL_DIR)/conex-policer.service

BINS    += $(POL_BIN)
UNITS   += $(POL_DIR)/conex-policer.service
CONFIGS += policer/policer.conf
MAN8    += policer/conex-policer.8
MAN5    += policer/conex-policer.conf.5

$(POL_BIN): $(POL_OBJS) $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lnetfilter_queue -lmnl -lsodium -lhiredis -lm

$(POL_DIR)/conex-policer.service: policer/conex-policer.service.in $(PATHS_STAMP)
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

# test_bank runs the client against a private redis-server; it needs the
# client object and hiredis on top of the generic unit-test link, so it has
# its own recipe (an explicit rule overrides tests/build.mk's pattern).
$(O)/tests/unit/test_bank.o: CPPFLAGS += -Ipolicer $(COMMON_CPPFLAGS)
$(O)/tests/unit/test_bank: $(O)/tests/unit/test_bank.o $(POL_BANK_OBJ) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lsodium -lhiredis

# Token bank benchmark: grants/s and request->grant latency against one
# redis-server. Built with everything, run by hand (not by CI or make bench).
POL_BANK_BENCH := $(O)/bench/cx-bank-bench
all: $(POL_BANK_BENCH)
$(O)/bench/bank.o: CPPFLAGS += -Ipolicer $(COMMON_CPPFLAGS)
$(POL_BANK_BENCH): $(O)/bench/bank.o $(POL_BANK_OBJ) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lhiredis

# System plumbing (NFQUEUE hook, VXLAN fallback) and its test-only driver,
# run by tests/pytest/test_tunnel.py; built with everything, never installed.
POL_NETPROBE := $(O)/tests/net/cx-netprobe
all: $(POL_NETPROBE)
$(O)/tests/net/cx-netprobe.o: CPPFLAGS += -Ipolicer $(COMMON_CPPFLAGS)
$(POL_NETPROBE): $(O)/tests/net/cx-netprobe.o $(POL_DIR)/net.o \
		$(POL_DIR)/config.o $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lmnl

# test_polconf: the configuration parser, with the common loader.
$(O)/tests/unit/test_polconf.o: CPPFLAGS += -Ipolicer $(COMMON_CPPFLAGS)
$(O)/tests/unit/test_polconf: $(O)/tests/unit/test_polconf.o $(POL_DIR)/config.o $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lsodium

# test_poldp: the verdict per packet (datapath.c) driven with crafted
# packets; the test defines pol_now_ns() (main.c's) as its own clock.
$(O)/tests/unit/test_poldp.o: CPPFLAGS += -Ipolicer $(COMMON_CPPFLAGS)
$(O)/tests/unit/test_poldp: $(O)/tests/unit/test_poldp.o $(POL_DIR)/datapath.o \
		$(POL_DIR)/config.o $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lsodium

# fuzz_poldp: the same verdict on fuzzed bytes. The fuzzer links libconex
# as objects, so extra prerequisites are enough (as for fuzz_pcap).
POL_FUZZ_OBJS := $(OF)/policer/datapath.o $(OF)/policer/config.o \
		 $(OF)/common/pkt.o $(OF)/common/conffile.o $(OF)/common/hostport.o
$(OF)/fuzz_poldp: $(POL_FUZZ_OBJS)
$(OF)/tests/fuzz/fuzz_poldp.o $(OF)/policer/datapath.o $(OF)/policer/config.o: \
		CPPFLAGS += -Ipolicer $(COMMON_CPPFLAGS)

# test_polstate: enforcement state across restarts (state.c).
$(O)/tests/unit/test_polstate.o: CPPFLAGS += -Ipolicer $(COMMON_CPPFLAGS)
$(O)/tests/unit/test_polstate: $(O)/tests/unit/test_polstate.o $(POL_DIR)/state.o \
		$(POL_DIR)/config.o $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lsodium
