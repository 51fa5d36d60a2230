# auditor: conex-auditor, the receiver-side ConEx audit and tunnel-egress
# feedback daemon (NFQUEUE via libmnl + libnetfilter_queue).
AUD_DIR  := $(O)/auditor
AUD_BIN  := $(AUD_DIR)/conex-auditor
AUD_SRCS := main.c config.c rules.c tunnel.c datapath.c stats.c metrics.c
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
