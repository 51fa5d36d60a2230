# conex: one non-recursive GNU Makefile. Every directory adds its own rules in
# a build.mk, included below; this file holds only what they share.
#
#   make            build everything (normal build in build/)
#   make SAN=1      the same with ASan+UBSan, in build-san/
#   make help       list the targets

.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:
.DEFAULT_GOAL := all

O        := $(if $(SAN),build-san,build)
OF       := build-fuzz
CC       ?= cc
CLANG    ?= clang
PYTHON   ?= /usr/bin/python3
PREFIX   ?= /usr/local
DESTDIR  ?=
SBINDIR  ?= $(PREFIX)/sbin
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR   ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR  ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
LIBEXECDIR ?= $(PREFIX)/lib/conex
FUZZ_SECONDS ?= 20

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wcast-qual \
	-Wwrite-strings -Wstrict-prototypes -Wmissing-prototypes \
	-Wmissing-declarations -Wformat=2 -Wformat-security -Wvla -Wundef \
	-Wimplicit-fallthrough -Wnull-dereference -Wold-style-definition
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
CPPFLAGS := -D_GNU_SOURCE -Ilibconex/include -MMD -MP
CFLAGS   := -std=c11 -O2 -g $(WARNINGS) $(if $(SAN),$(SANFLAGS))
LDFLAGS  := $(if $(SAN),$(SANFLAGS))

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' '$(1)' '$(2)'
endif

# Filled in by the build.mk files.
BINS       :=# daemons and tools installed to $(SBINDIR)
LIBEXEC    :=# helper objects installed to $(LIBEXECDIR)
UNITS      :=# systemd units installed to $(UNITDIR)
CONFIGS    :=# example configs installed to $(SYSCONFDIR)/conex (never overwritten)
MAN5       :=# man pages, section 5 and 8
MAN8       :=
UNIT_TESTS :=
FUZZERS    :=
CLEAN      :=

# Defined before the build.mk files, whose rules name them as prerequisites.
INSTALL_PATHS := $(SBINDIR) $(SYSCONFDIR) $(LIBEXECDIR) $(UNITDIR)
PATHS_STAMP := $(O)/install-paths

include libconex/build.mk
include tests/build.mk
include common/build.mk
-include $(sort $(wildcard guest-marker/build.mk auditor/build.mk \
	policer/build.mk testbed/build.mk bench/build.mk tools/build.mk))

# Files generated with installation paths in them (systemd units) depend on
# this stamp: it changes only when the paths do, so `make all` with one PREFIX
# and `make install PREFIX=/usr` later regenerate what names the old paths.
$(PATHS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(INSTALL_PATHS)' | cmp -s - $@ || echo '$(INSTALL_PATHS)' > $@
.PHONY: FORCE
FORCE:

$(O)/%.o: %.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

.PHONY: all unit unit-bins fuzz fuzz-bins check bench install uninstall \
	clean help
all: $(LIBCONEX) $(BINS) $(LIBEXEC) $(UNIT_TESTS)

unit-bins: $(UNIT_TESTS)

# Runs every cmocka program of the current build (use SAN=1 for ASan/UBSan).
unit: $(UNIT_TESTS)
	$(Q)scripts/run-units $(UNIT_TESTS)

fuzz-bins: $(FUZZERS)

# Runs every libFuzzer harness for FUZZ_SECONDS each; a crash fails.
fuzz: $(FUZZERS)
	$(Q)scripts/run-fuzzers $(FUZZ_SECONDS) $(FUZZERS)

# The whole suite (what .ci/run and the README's test command run).
check:
	$(Q)scripts/check

CONEX_HEADERS := $(sort $(wildcard libconex/include/conex/*.h))

install: $(LIBCONEX) $(BINS) $(LIBEXEC) $(UNITS) $(MAN5) $(MAN8) $(CONFIGS)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/conex
	$(Q)install -m 0644 $(LIBCONEX) $(DESTDIR)$(LIBDIR)/
	$(Q)install -m 0644 $(CONEX_HEADERS) $(DESTDIR)$(INCLUDEDIR)/conex/
	$(Q)$(if $(BINS),install -d $(DESTDIR)$(SBINDIR) && install -m 0755 $(BINS) $(DESTDIR)$(SBINDIR)/)
	$(Q)$(if $(LIBEXEC),install -d $(DESTDIR)$(LIBEXECDIR) && install -m 0644 $(LIBEXEC) $(DESTDIR)$(LIBEXECDIR)/)
	$(Q)$(if $(UNITS),install -d $(DESTDIR)$(UNITDIR) && install -m 0644 $(UNITS) $(DESTDIR)$(UNITDIR)/)
	$(Q)$(if $(MAN5),install -d $(DESTDIR)$(MANDIR)/man5 && install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/)
	$(Q)$(if $(MAN8),install -d $(DESTDIR)$(MANDIR)/man8 && install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/)
	$(Q)$(if $(CONFIGS),install -d $(DESTDIR)$(SYSCONFDIR)/conex)
	$(Q)for f in $(CONFIGS); do \
		t=$(DESTDIR)$(SYSCONFDIR)/conex/$$(basename $$f); \
		[ -e $$t ] || install -m 0644 $$f $$t; \
	done

# Removes exactly what install put there, and the directories it made if
# they are empty; never anything else.
uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(LIBDIR)/$(notdir $(LIBCONEX))
	$(Q)rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/conex/,$(notdir $(CONEX_HEADERS)))
	$(Q)rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(BINS)))
	$(Q)rm -f $(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(notdir $(LIBEXEC)))
	$(Q)rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(UNITS)))
	$(Q)rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	$(Q)rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8)))
	$(Q)# configs are the operator's: removed only if unchanged from ours
	$(Q)for f in $(CONFIGS); do \
		t=$(DESTDIR)$(SYSCONFDIR)/conex/$$(basename $$f); \
		cmp -s $$f $$t && rm -f $$t; \
	done; true
	$(Q)rmdir $(DESTDIR)$(INCLUDEDIR)/conex $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(SYSCONFDIR)/conex 2>/dev/null || true

clean:
	$(call msg,CLEAN,build build-san build-fuzz)
	$(Q)rm -rf build build-san build-fuzz $(CLEAN)

help:
	@echo 'Targets:'
	@echo '  all        build the library, programs and unit tests (default)'
	@echo '  unit       run the cmocka unit tests of this build'
	@echo '  fuzz       build and run every libFuzzer harness for FUZZ_SECONDS (default 20) each'
	@echo '  check      the whole test suite: build, unit (ASan/UBSan), fuzz, wire, testbed, e2e'
	@echo '  bench      run the benchmarks side by side and print ratios (see bench/README.md)'
	@echo '  install    install programs, libconex.a and its headers under DESTDIR/PREFIX (default /usr/local)'
	@echo '  uninstall  remove what install put there'
	@echo '  clean      remove build, build-san and build-fuzz'
	@echo 'Variables:'
	@echo '  SAN=1      build with AddressSanitizer and UndefinedBehaviorSanitizer (into build-san/)'
	@echo '  V=1        show full commands'
	@echo '  FUZZ_SECONDS=N  time per fuzzer for make fuzz'
	@echo '  PREFIX, DESTDIR  installation root (install, uninstall)'

-include $(shell find build build-san build-fuzz -name '*.d' 2>/dev/null)
