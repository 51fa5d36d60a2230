# Unit tests: tests/unit/test_<module>.c, one cmocka program per module.
UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_TESTS += $(UNIT_SRCS:%.c=$(O)/%)

$(O)/tests/unit/test_%: $(O)/tests/unit/test_%.o $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lsodium

# Fuzzers: tests/fuzz/fuzz_<thing>.c, libFuzzer + ASan + UBSan, built with
# clang into build-fuzz/ with their own copy of the library objects.
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS    += $(FUZZ_SRCS:tests/fuzz/%.c=$(OF)/%)
FUZZ_CFLAGS := -std=c11 -O1 -g $(WARNINGS) -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIBOBJS := $(LIBCONEX_SRCS:%.c=$(OF)/%.o)

$(OF)/%.o: %.c
	$(call msg,CLANG,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(OF)/fuzz_%: $(OF)/tests/fuzz/fuzz_%.o $(FUZZ_LIBOBJS)
	$(call msg,LD,$@)
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -o $@ $^ -lsodium

# Wire check: packets built by libconex, decoded by tshark (tests/pytest/test_wire.py).
WIREPCAP := $(O)/tests/wire/cx-wirepcap
$(WIREPCAP): $(O)/tests/wire/wirepcap.o $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
all: $(WIREPCAP)
