# auditor: conex-auditor, the receiver-side ConEx audit and tunnel-egress
# feedback daemon (NFQUEUE via libmnl + libnetfilter_queue).
AUD_DIR  := $(O)/auditor
AUD_BIN  := $(AUD_DIR)/conex-auditor
AUD_SRCS := main.c config.c rules.c tunnel.c datapath.c stats.c metrics.c state.c
AUD_OBJS := $(AUD_SRCS:%.c=$(AUD_DIR)/%.o)

BINS    += $(AUD_BIN)
UNITS   += $(AUD_DIR)/conex-auditor.service
CONFIGS += auditor/auditor.conf
MAN8    += auditor/conex-auditor.8
MAN5    += auditor/conex-auditor.conf.5

all: $(AUD_DIR)/conex-auditor.service

$(AUD_OBJS): CPPFLAGS += -Iauditor $(COMMON_CPPFLAGS)

$(AUD_BIN): $(AUD_OBJS) $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lnetfilter_queue -lmnl -lsodium -lm

$(AUD_DIR)/conex-auditor.service: auditor/conex-auditor.service.in $(PATHS_STAMP)
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

# fuzz_auddp: the verdict per packet (datapath.c) on fuzzed bytes, through
# the real parser, audit and tunnel counting; fuzz_audtun: the tunnel
# counting, feedback ticks and reloads (tunnel.c). The fuzzers define
# aud_now_ns() (main.c's) as their own clock. The fuzzer links libconex as
# objects, so extra prerequisites are enough (as for fuzz_poldp); the
# verdict's route lookup for "flows" replies needs libmnl, hence a recipe.
AUD_FUZZ_OBJS := $(OF)/auditor/datapath.o $(OF)/auditor/tunnel.o $(OF)/common/pkt.o
$(OF)/fuzz_auddp: $(OF)/tests/fuzz/fuzz_auddp.o $(AUD_FUZZ_OBJS) $(FUZZ_LIBOBJS)
	$(call msg,LD,$@)
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -o $@ $^ -lsodium -lmnl
$(OF)/fuzz_audtun: $(OF)/auditor/tunnel.o
$(OF)/tests/fuzz/fuzz_auddp.o $(OF)/tests/fuzz/fuzz_audtun.o $(AUD_FUZZ_OBJS): \
		CPPFLAGS += -Iauditor $(COMMON_CPPFLAGS)
