# tapvault — plain Makefile (STYLE.md §10).
#
#   make            build ./tapvault (warnings are errors)
#   make deps       install what a fresh Debian machine lacks (apt-get)
#   make test       unit tests, fuzz-corpus replay, end-to-end tests
#   make test SAN=1 the same under AddressSanitizer + UBSan (build-san/)
#   make tsan       multi-worker live ingest under ThreadSanitizer (build-tsan/)
#   make fuzz       run every libFuzzer target (FUZZ_SECONDS each)
#   make bench      benchmarks against peer tools (not part of test; BENCH_PROFILE,
#                   BENCH_SIZES, BENCH_SOAK=1, BENCH_LIVE=1: see tests/bench/bench.sh)
#   make run        the demo on generated traffic
#   make install PREFIX=/usr/local [DESTDIR=...]  binary, man page, unit, README

CC       ?= cc
PREFIX   ?= /usr/local
SAN      ?= 0
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla \
            -Wwrite-strings -Wundef
DEFS     := -D_GNU_SOURCE
ifeq ($(SAN),1)
BUILD    ?= build-san
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SANLD    := -fsanitize=address,undefined
else
BUILD    ?= build
OPT      := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
SANLD    :=
endif
# -MMD -MP: each object depends on the headers it includes (BUILD/x.d)
CFLAGS   += $(WARN) $(DEFS) $(OPT) -MMD -MP
LDLIBS   := -lpcap -lzstd -llmdb -larchive -ljansson -lpthread -lm
LDFLAGS  += $(SANLD)

LIB_SRC  := $(sort $(wildcard ingest/*.c store/*.c index/*.c report/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_SRC  := $(sort $(wildcard cmd/*.c))
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libtapvault.a

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/replay/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
GEN      := $(BUILD)/tv-gen

# ./tapvault for the default build; any other BUILD dir (SAN=1, or a
# private BUILD=build-x while several people build at once) keeps its own.
ifeq ($(BUILD),build)
TAPVAULT := tapvault
else
TAPVAULT := $(BUILD)/tapvault
endif

.PHONY: all deps test check unit fuzz-replay e2e tsan fuzz bench chunk2-measure run install clean golden

all: $(TAPVAULT) $(GEN)

# An object without its .d (built before -MMD, or the .d was removed) is
# rebuilt: its header dependencies are unknown.
$(BUILD)/%.o: %.c $(BUILD)/%.d
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
# named explicitly, so that a missing one is not an intermediate file
DEPFILES := $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d)
$(DEPFILES):

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# the generator is linked into tapvault for `tapvault demo`
GEN_LIB_OBJ := $(BUILD)/testdata/gen_lib.o
$(GEN_LIB_OBJ): testdata/gen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DTVGEN_LIB -c $< -o $@

$(TAPVAULT): $(CMD_OBJ) $(GEN_LIB_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJ) $(GEN_LIB_OBJ) $(LIB) $(LDLIBS)

$(GEN): testdata/gen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lm

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(LIB) -lcriterion $(LDLIBS)

# Fuzz targets replay their corpus under the normal compiler with a small main.
$(BUILD)/replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c $(LIB) $(LDLIBS)

deps:
	@if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	missing=""; for p in build-essential pkg-config clang libpcap-dev libzstd-dev zstd liblmdb-dev \
	    lmdb-utils libarchive-dev libjansson-dev libcriterion-dev tcpdump tshark python3 time chromium; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "deps: all present"; fi

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t --jobs 2 || exit 1; done
	@echo "== $(BUILD)/tests/test_sha256 without SHA-NI"; TAPVAULT_NO_SHA_NI=1 $(BUILD)/tests/test_sha256
	@echo "== $(BUILD)/tests/test_crc32c without SSE4.2"; TAPVAULT_NO_SSE42=1 $(BUILD)/tests/test_crc32c

fuzz-replay: $(FUZZ_REPLAY)
	@set -e; for t in $(FUZZ_REPLAY); do n=$$(basename $$t); \
	  $$t tests/fuzz/corpus/$$n || exit 1; done

e2e: $(TAPVAULT) $(GEN)
	@SAN=$(SAN) TAPVAULT=$(abspath $(TAPVAULT)) GEN=$(abspath $(GEN)) bash tests/e2e/run.sh

# ThreadSanitizer: tsan_live.sh builds build-tsan/ (gcc -fsanitize=thread)
# and races queries, stats and signals against a 4-worker live ingest.
tsan:
	bash tests/e2e/tsan_live.sh

# test and run install their own dependencies first (a fresh machine needs
# nothing else); check is the same without the apt-get step.
test:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory check

check: all
	@$(MAKE) --no-print-directory unit fuzz-replay e2e

# libFuzzer builds (clang); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard */*.h)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) $(WARN) -Wno-missing-prototypes -o $@ $< $(LIB_SRC) $(LDLIBS)

fuzz: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_BIN); do n=$$(basename $$t); mkdir -p tests/fuzz/corpus/$$n build-fuzz/new-$$n; \
	  echo "== $$n for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=build-fuzz/ build-fuzz/new-$$n tests/fuzz/corpus/$$n \
	    2>&1 | tail -n 12; done

bench: $(TAPVAULT) $(GEN) $(BUILD)/chunk2-measure $(BUILD)/work-bound
	TAPVAULT=$(abspath $(TAPVAULT)) GEN=$(abspath $(GEN)) bash tests/bench/bench.sh

# The version-2 chunk packer on a decapsulated pcap (size and CPU against
# zstd); a tuning and benchmark tool, not built by `make test`.
chunk2-measure: $(BUILD)/chunk2-measure
$(BUILD)/chunk2-measure: tests/bench/chunk2_measure.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The work bound of a query's answer (tests/unit/workbound.h), for the
# enterprise bench; not built by `make test`.
$(BUILD)/work-bound: tests/bench/work_bound.c tests/unit/workbound.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

run:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	./$(TAPVAULT) demo

# The unit goes where systemd looks for units the administrator installed
# (/usr/local/lib/systemd/system for PREFIX=/usr/local, systemd.unit(5));
# its paths follow PREFIX.  Packagers set UNITDIR=/lib/systemd/system.
UNITDIR  ?= $(PREFIX)/lib/systemd/system
DOCDIR   ?= $(PREFIX)/share/doc/tapvault
install: $(TAPVAULT)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(TAPVAULT) $(DESTDIR)$(PREFIX)/bin/tapvault
	install -m 0644 tapvault.1 $(DESTDIR)$(PREFIX)/share/man/man1/tapvault.1
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	sed -e 's|/usr/local/bin/tapvault|$(PREFIX)/bin/tapvault|g' \
	    -e 's|/usr/local/share/doc/tapvault|$(DOCDIR)|g' contrib/tapvault.service \
	    >$(DESTDIR)$(UNITDIR)/tapvault.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/tapvault.service.tmp
	mv -f $(DESTDIR)$(UNITDIR)/tapvault.service.tmp $(DESTDIR)$(UNITDIR)/tapvault.service

clean:
	rm -rf build build-san build-tsan build-fuzz tapvault

# the header dependencies written by -MMD (absent before the first build)
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
