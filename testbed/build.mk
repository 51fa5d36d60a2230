# testbed: the fabric's ECN-marking queue (tc-BPF program and its loader).
# Testbed tools are for tests and trials, not operators: built by `make`,
# never installed. The Python library and the tb CLI need no build.
ECNQ_DIR  := $(O)/testbed/ecnq
ECNQ_TOOL := $(ECNQ_DIR)/cx-ecnq
BPF_CFLAGS := -O2 -g -target bpf -Wall -Wextra -Werror \
	-I/usr/include/$(shell gcc -dumpmachine)

all: $(ECNQ_TOOL)

$(ECNQ_DIR)/ecnq.bpf.o: testbed/ecnq/ecnq.bpf.c testbed/ecnq/ecnq.h
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@ $<

# The skeleton embeds the object, so cx-ecnq needs no path to find it.
$(ECNQ_DIR)/ecnq.skel.h: $(ECNQ_DIR)/ecnq.bpf.o
	$(call msg,GEN,$@)
	$(Q)bpftool gen skeleton $< name ecnq > $@.tmp && mv $@.tmp $@

$(ECNQ_DIR)/cx-ecnq.o: $(ECNQ_DIR)/ecnq.skel.h
$(ECNQ_DIR)/cx-ecnq.o: CPPFLAGS += -I$(ECNQ_DIR) -Itestbed/ecnq

$(ECNQ_TOOL): $(ECNQ_DIR)/cx-ecnq.o $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lbpf -lelf -lz
