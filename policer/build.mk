# policer: conex-policer, the sender-side tenant policer, and its client of
# the Redis token bank (issue 5). Sources are listed in POL_SRCS; every
# object under $(POL_DIR) compiles with -Ipolicer and the common headers.
POL_DIR      := $(O)/policer
POL_SRCS     := bank.c
POL_OBJS      = $(POL_SRCS:%.c=$(POL_DIR)/%.o)
POL_BANK_OBJ := $(POL_DIR)/bank.o

$(POL_DIR)/%.o: CPPFLAGS += -Ipolicer $(COMMON_CPPFLAGS)

all: $(POL_BANK_OBJ)

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
