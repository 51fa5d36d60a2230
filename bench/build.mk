# bench: programs the benchmark runner (bench/run) drives; not installed.
# `make bench` builds them and runs bench/run with its defaults; pass runner
# options with BENCH_ARGS, e.g. make bench BENCH_ARGS='--runs 5 --hooks h1:FORWARD,h2:FORWARD'.
# cx-nfq-accept is a main() over common/nfq.c, the daemons' NFQUEUE plumbing.
BENCH_BINS := $(O)/bench/cx-nfq-accept $(O)/bench/cx-micro $(O)/bench/cx-micro-audit
BENCH_ARGS ?=

all: $(BENCH_BINS)

$(O)/bench/nfq-accept.o: CPPFLAGS += $(COMMON_CPPFLAGS)

$(O)/bench/cx-nfq-accept: $(O)/bench/nfq-accept.o $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lnetfilter_queue -lmnl

$(O)/bench/cx-micro: $(O)/bench/micro.o $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(O)/bench/cx-micro-audit: $(O)/bench/micro-audit.o $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

bench: $(O)/bench/cx-nfq-accept
	$(Q)$(PYTHON) bench/run --bin-dir $(O)/bench $(BENCH_ARGS)
