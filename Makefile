# authgate — one non-recursive Makefile, everything built out of tree in build/.
#
#   make              build/authgate (release) and the BPF objects
#   make test         deps + sanitizer build + unit, conformance, integration
#   make run          deps + build + the daemon on etc/authgate.conf
#   make fuzz         libFuzzer targets (clang) in build/fuzz/
#   make fuzz-smoke   each fuzz target for FUZZ_SECONDS (default 20)
#   make bench        benchmarks beside their baselines, plots (docs/performance.md)
#   make bench-quick  the same, shorter (under 3 minutes)
#   make deps         install the Debian 12 packages everything needs
#   make clean
#
# Quiet by default; V=1 shows the commands.

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
.DEFAULT_GOAL := all

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)"
endif

B := build
CC ?= cc
CLANG ?= clang
FUZZ_SECONDS ?= 20

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -I. -I$(B)/bpf -g $(WARN) -MMD -MP
REL_CFLAGS := $(BASE_CFLAGS) -O2
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 $(ASAN_FLAGS) -DAUTHGATE_DEBUG_COUNTERS
FUZZ_CFLAGS := $(BASE_CFLAGS) -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -DAUTHGATE_FUZZING -DAUTHGATE_DEBUG_COUNTERS
LIBS := -lcares -lssl -lcrypto -luring -lbpf -lelf -lz -lpthread -lm

VERIFY_SRC := $(sort $(wildcard verify/*.c))
USER_SRC := $(filter-out userspace/main.c,$(sort $(wildcard userspace/*.c)))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
CONF_SRC := $(sort $(wildcard tests/conformance/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BPF_SRC := $(sort $(wildcard bpf/*.bpf.c))
BENCH_BPF_SRC := $(sort $(wildcard bench/*.bpf.c))

# $(call objs,VARIANT,SOURCES)
objs = $(patsubst %.c,$(B)/$(1)/obj/%.o,$(2))

REL_VERIFY := $(call objs,rel,$(VERIFY_SRC))
REL_USER := $(call objs,rel,$(USER_SRC))
ASAN_VERIFY := $(call objs,asan,$(VERIFY_SRC))
ASAN_USER := $(call objs,asan,$(USER_SRC))
FUZZ_VERIFY := $(call objs,fuzz,$(VERIFY_SRC))
FUZZ_USER := $(call objs,fuzz,$(USER_SRC))

UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/asan/tests/%,$(UNIT_SRC))
CONF_BINS := $(patsubst tests/conformance/%.c,$(B)/asan/conformance/%,$(CONF_SRC))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC)) $(B)/bench/loadgen $(B)/bench/synflood
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.bpf.o,$(BPF_SRC))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.skel.h,$(BPF_SRC))
BENCH_BPF_SKELS := $(patsubst bench/%.bpf.c,$(B)/bpf/%.skel.h,$(BENCH_BPF_SRC))

.PHONY: all test test-bins run fuzz fuzz-smoke bench bench-quick bench-xdp-compare deps clean \
	unit-bins corpus

all: $(B)/authgate $(BPF_OBJS)

# ---------------------------------------------------------------- compile

$(B)/rel/obj/%.o: %.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(REL_CFLAGS) -c $< -o $@

$(B)/asan/obj/%.o: %.c
	$(call msg,CC-ASAN,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ASAN_CFLAGS) -c $< -o $@

$(B)/fuzz/obj/%.o: %.c
	$(call msg,CC-FUZZ,$<)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(B)/rel/libverify.a: $(REL_VERIFY)
$(B)/asan/libverify.a: $(ASAN_VERIFY)
$(B)/fuzz/libverify.a: $(FUZZ_VERIFY)
$(B)/rel/libuser.a: $(REL_USER)
$(B)/asan/libuser.a: $(ASAN_USER)
$(B)/fuzz/libuser.a: $(FUZZ_USER)
$(B)/%.a:
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

# ------------------------------------------------------------------ link

$(B)/authgate: $(B)/rel/obj/userspace/main.o $(B)/rel/libuser.a $(B)/rel/libverify.a
	$(call msg,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(LIBS)

$(B)/asan/authgate: $(B)/asan/obj/userspace/main.o $(B)/asan/libuser.a $(B)/asan/libverify.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $^ $(LIBS)

$(B)/asan/tests/%: $(B)/asan/obj/tests/unit/%.o $(B)/asan/libuser.a $(B)/asan/libverify.a
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $^ -lcmocka $(LIBS)

# Helper programs the conformance scripts drive (tests/conformance/*.c).
$(B)/asan/conformance/%: $(B)/asan/obj/tests/conformance/%.o $(B)/asan/libuser.a $(B)/asan/libverify.a
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $^ $(LIBS)

$(B)/fuzz/fuzz_%: $(B)/fuzz/obj/tests/fuzz/fuzz_%.o $(B)/fuzz/libuser.a $(B)/fuzz/libverify.a
	$(call msg,LINK,$@)
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# bench_spf runs libspf2 side by side with authgate's engine, and pyspf
# (as bench_senderid runs Mail::SPF) in a child process (peer_child.c), all
# answering from one table of records (records.c).
$(B)/bench/bench_spf: $(B)/rel/obj/bench/bench_spf.o $(B)/rel/obj/bench/peer_child.o $(B)/rel/obj/bench/records.o $(B)/rel/libuser.a $(B)/rel/libverify.a
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LIBS) -lspf2

# The load generator stands apart from the daemon: io_uring, its message
# set, and of authgate only the histogram and the TLS endpoint (client side,
# with the output buffer it grows).
LOADGEN_OBJS := bench/loadgen.o bench/loadgen_msgs.o userspace/hist.o userspace/tls.o userspace/pinbuf.o
$(B)/bench/loadgen: $(addprefix $(B)/rel/obj/,$(LOADGEN_OBJS))
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ -luring -lssl -lcrypto -lm

# The unit test of loadgen's message set links that module too.
$(B)/asan/tests/test_loadgen_msgs: $(B)/asan/obj/bench/loadgen_msgs.o

# The SYN flooder (AF_PACKET) stands alone too.
$(B)/bench/synflood: $(B)/rel/obj/bench/synflood.o
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^

$(B)/bench/bench_%: $(B)/rel/obj/bench/bench_%.o $(B)/rel/libuser.a $(B)/rel/libverify.a
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LIBS) $(BENCH_LIBS)

$(B)/bench/bench_senderid: $(B)/rel/obj/bench/peer_child.o $(B)/rel/obj/bench/records.o

# The DKIM bench runs OpenDKIM's library side by side (libopendkim-dev).
$(B)/bench/bench_dkim: BENCH_LIBS := -lopendkim

# ------------------------------------------------------------------- BPF

# vmlinux.h from the running kernel's BTF; without BTF (or with
# VMLINUX_FALLBACK=1) the UAPI-based bpf/vmlinux_fallback.h stands in.
VMLINUX_BTF := $(if $(VMLINUX_FALLBACK),,$(wildcard /sys/kernel/btf/vmlinux))
BPF_ARCH_INC := -idirafter /usr/include/$(shell $(CC) -dumpmachine 2>/dev/null)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 $(BPF_ARCH_INC)

$(B)/bpf/vmlinux.h:
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
ifneq ($(VMLINUX_BTF),)
	$(Q)bpftool btf dump file $(VMLINUX_BTF) format c > $@
else
	$(Q)echo '#include "vmlinux_fallback.h" /* no /sys/kernel/btf/vmlinux */' > $@
endif

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(B)/bpf/vmlinux.h $(wildcard bpf/*.h)
	$(call msg,BPF,$<)
	$(Q)$(CLANG) $(BPF_CFLAGS) -I$(B)/bpf -Ibpf -c $< -o $@

# Bench-only programs built around bpf/ sources (bench/xdp_bench.bpf.c).
$(B)/bpf/%.bpf.o: bench/%.bpf.c $(B)/bpf/vmlinux.h $(wildcard bpf/*.h bpf/*.bpf.c)
	$(call msg,BPF,$<)
	$(Q)$(CLANG) $(BPF_CFLAGS) -I$(B)/bpf -Ibpf -c $< -o $@

# The userspace loader embeds each object through a generated skeleton.
$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)bpftool gen skeleton $< name $(subst .bpf.o,,$(notdir $<)) > $@

# Everything that includes a skeleton (or the shared header) waits for them.
$(filter %/bpf_loader.o %/verdict_stats.o %/cmd_stats.o %/test_bpf_flow.o %/test_bpf_layout.o %/bench_xdp.o,$(call objs,rel,$(USER_SRC) $(UNIT_SRC) $(BENCH_SRC)) $(call objs,asan,$(USER_SRC) $(UNIT_SRC)) $(call objs,fuzz,$(USER_SRC))): $(BPF_SKELS)
$(B)/rel/obj/bench/bench_xdp.o: $(BENCH_BPF_SKELS)

# ----------------------------------------------------------------- tests

unit-bins: $(UNIT_BINS)

test: deps
	$(Q)$(MAKE) --no-print-directory test-bins
	$(Q)AUTHGATE=$(B)/asan/authgate BUILD=$(B) bash tests/run.sh

test-bins: $(B)/authgate $(B)/asan/authgate $(UNIT_BINS) $(CONF_BINS) $(FUZZ_BINS) $(BENCH_BINS)
	@:

fuzz: $(FUZZ_BINS)

fuzz-smoke: $(FUZZ_BINS)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) BUILD=$(B) bash tests/fuzz/smoke.sh

# The benchmark corpus, generated once per seed and kept under build/.
CORPUS_SEED ?= 1
corpus: $(B)/corpus/seed-$(CORPUS_SEED)/MANIFEST
$(B)/corpus/seed-%/MANIFEST: bench/corpus.py
	$(call msg,CORPUS,$(@D))
	$(Q)/usr/bin/python3 bench/corpus.py $(@D) --seed $*

# Results, plots and the ratio table: bench/results/<date>.json (+ .png).
bench: $(B)/authgate $(BENCH_BINS) $(B)/corpus/seed-1/MANIFEST
	$(Q)BUILD=$(B) bash bench/run.sh

bench-quick: $(B)/authgate $(BENCH_BINS) $(B)/corpus/seed-1/MANIFEST
	$(Q)BUILD=$(B) QUICK=1 bash bench/run.sh

# bench_xdp on this tree's XDP program and on XDP_REV's, interleaved in one run.
XDP_REV ?= main
bench-xdp-compare: $(B)/bench/bench_xdp
	$(Q)BUILD=$(B) CLANG=$(CLANG) BPF_CFLAGS='$(BPF_CFLAGS)' bash bench/xdp_compare.sh $(XDP_REV)

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash etc/run.sh $(B)/authgate

# ------------------------------------------------------------------ deps

DEPS := build-essential clang llvm pkg-config bpftool libbpf-dev liburing-dev \
	libssl-dev libc-ares-dev libcmocka-dev libclang-rt-14-dev libelf-dev \
	zlib1g-dev iproute2 unbound swaks openssl python3 python3-yaml \
	python3-dkim python3-spf python3-authres libmail-spf-perl \
	libmail-dkim-perl libnet-dns-resolver-programmable-perl libspf2-dev libopendkim-dev opendkim opendkim-tools postfix \
	postfix-policyd-spf-python gnuplot-nox python3-jsonschema python3-fusepy \
	e2fsprogs mount

# The services these packages bring (postfix, opendkim, unbound) are not
# started on install: tests and benches run their own, on loopback, from
# scratch directories. A policy-rc.d that refuses every start (exit 101)
# does that, unless the machine already has one of its own.
deps:
	$(Q)missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(DEPS) 2>/dev/null \
		| awk '$$NF == "installed" { ok[$$1] = 1 } END { n = split("$(DEPS)", p, " "); \
		  for (i = 1; i <= n; i++) if (!(p[i] in ok)) printf "%s ", p[i] }'); \
	if [ -n "$$missing" ]; then \
		echo "  DEPS     installing: $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		norc=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && norc=1; fi; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; rc=$$?; \
		[ -z "$$norc" ] || rm -f /usr/sbin/policy-rc.d; \
		[ $$rc -eq 0 ] || { echo "make deps: apt-get failed (are you root on Debian 12?)" >&2; exit 1; }; \
	fi

clean:
	$(call msg,CLEAN,$(B))
	$(Q)rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
