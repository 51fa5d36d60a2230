# guest-marker: conex-marker, the guest-side ConEx marker (tc-BPF datapath
# embedded through a bpftool skeleton, so the binary needs no object path).
CXM_DIR  := $(O)/guest-marker
CXM_BIN  := $(CXM_DIR)/conex-marker
CXM_SRCS := main.c config.c datapath.c stats.c accecn.c
CXM_OBJS := $(CXM_SRCS:%.c=$(CXM_DIR)/%.o)

# -ffreestanding: clang's own <stdint.h>, not glibc's, which would pull in
# gnu/stubs-32.h for a 32-bit-looking target. conex/gauge.h needs it.
CXM_BPF_CFLAGS := -O2 -g -target bpf -ffreestanding -Wall -Wextra -Werror \
	-I/usr/include/$(shell gcc -dumpmachine) -Ilibconex/include -MMD -MP

BINS    += $(CXM_BIN)
UNITS   += $(CXM_DIR)/conex-marker.service
CONFIGS += guest-marker/marker.conf
MAN8    += guest-marker/conex-marker.8
MAN5    += guest-marker/conex-marker.conf.5

all: $(CXM_DIR)/conex-marker.service

$(CXM_DIR)/marker.bpf.o: guest-marker/marker.bpf.c
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(CXM_BPF_CFLAGS) -c -o $@ $<

$(CXM_DIR)/marker.skel.h: $(CXM_DIR)/marker.bpf.o
	$(call msg,GEN,$@)
	$(Q)bpftool gen skeleton $< name marker > $@.tmp && mv $@.tmp $@

$(CXM_DIR)/datapath.o: $(CXM_DIR)/marker.skel.h

# cx_accecn (accecn.bpf.c, `accecn yes`): a struct_ops congestion control,
# so it needs the kernel's own types: vmlinux.h is generated from the
# running kernel's BTF into the build directory (never committed).
CXM_VMLINUX_BTF := /sys/kernel/btf/vmlinux
# libbpf's BPF_PROG() wrapper leaves its ctx argument unused.
CXM_CC_BPF_CFLAGS := -O2 -g -target bpf -Wall -Wextra -Werror \
	-Wno-unused-parameter -I$(CXM_DIR) -Iguest-marker -MMD -MP

$(CXM_DIR)/vmlinux.h: $(wildcard $(CXM_VMLINUX_BTF))
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)test -r $(CXM_VMLINUX_BTF) || { echo "$(CXM_VMLINUX_BTF): no kernel BTF" \
		"(CONFIG_DEBUG_INFO_BTF) to build cx_accecn from" >&2; exit 1; }
	$(Q)bpftool btf dump file $(CXM_VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

$(CXM_DIR)/accecn.bpf.o: guest-marker/accecn.bpf.c $(CXM_DIR)/vmlinux.h
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(CXM_CC_BPF_CFLAGS) -c -o $@ $<

$(CXM_DIR)/accecn.skel.h: $(CXM_DIR)/accecn.bpf.o
	$(call msg,GEN,$@)
	$(Q)bpftool gen skeleton $< name accecn_bpf > $@.tmp && mv $@.tmp $@

$(CXM_DIR)/accecn.o: $(CXM_DIR)/accecn.skel.h
$(CXM_OBJS): CPPFLAGS += -I$(CXM_DIR) -Iguest-marker $(COMMON_CPPFLAGS)

$(CXM_BIN): $(CXM_OBJS) $(COMMON_OBJS) $(LIBCONEX)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lbpf -lelf -lz

# The unit names the installed paths.
$(CXM_DIR)/conex-marker.service: guest-marker/conex-marker.service.in $(PATHS_STAMP)
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@
