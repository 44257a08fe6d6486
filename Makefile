# SPDX-License-Identifier: Apache-2.0
#
# `make`            build build/cloudbrokerd and build/cloudbrokerctl
# `make run`        install missing build dependencies, build, run the daemon
# `make check`      the same set-up, then lint and every test, plain and
#                   under ASan+UBSan
# `make fuzz`       libFuzzer harnesses, FUZZ_SECONDS each (tests/fuzz/fuzz.mk)
# `make install DESTDIR=...`   daemon, CLI, units, D-Bus policy, config
#
# Sources are found by directory, so a new module is a new .c/.h pair and
# nothing here changes.

CC ?= gcc
BUILD ?= build
SANITIZE ?= 0
PREFIX ?= /usr
SYSCONFDIR ?= /etc
VERSION := 0.1.0

PKGS := libvirt libcurl jansson libconfig libsystemd libmicrohttpd sqlite3 libcrypto libxml-2.0 libisofs-1 yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# The layers (layers.txt): one static library each, linked highest first, so
# that a lower layer cannot lean on a higher one; scripts/check-layers.sh,
# run before anything is compiled, fails the build on an upward #include.
# Each layer is compiled with the include folders of its own and lower
# layers only.
layer_globs = $(shell awk '$$1 == "$(1)" { for (i = 4; i <= NF; i++) print $$i }' layers.txt)
layer_c = $(filter %.c,$(wildcard $(call layer_globs,$(1))))
L1_SRCS := $(call layer_c,1)
L2_SRCS := $(filter-out $(L1_SRCS),$(call layer_c,2))
L3_SRCS := $(filter-out $(L1_SRCS) $(L2_SRCS),$(call layer_c,3))
L4_SRCS := $(filter-out $(L1_SRCS) $(L2_SRCS) $(L3_SRCS),$(call layer_c,4))
L5_SRCS := $(filter-out $(L1_SRCS) $(L2_SRCS) $(L3_SRCS) $(L4_SRCS) daemon/main.c,$(call layer_c,5))
L1_INC := -Ibasic
L2_INC := $(L1_INC) -Ipolicy -Icatalog -Idrivers -Imigration
L3_INC := $(L2_INC) -Idaemon/infra
L4_INC := $(L3_INC) -Idaemon/core
L5_INC := $(L4_INC) -Idaemon -Idaemon/rest -Idaemon/bus
INCLUDES := $(L5_INC)
LAYER_LIBS := $(BUILD)/libcb-faces.a $(BUILD)/libcb-core.a $(BUILD)/libcb-infra.a $(BUILD)/libcb-domain.a \
	$(BUILD)/libcb-basic.a

CFLAGS := -std=gnu11 -Wall -Wextra -Werror -g -O2 -D_GNU_SOURCE -DCB_VERSION='"$(VERSION)"' \
	-fno-strict-aliasing $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread -lm
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O1
LDFLAGS += -fsanitize=address,undefined
endif

CTL_SRCS := $(wildcard ctl/*.c)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
# Unit tests of the pure domain link against domain and basic alone: a test
# that needs more shows a module in the wrong layer.
DOMAIN_TESTS := test-ecma-regex test-json-format test-policy test-calendar test-approval test-approval-memo test-catalog-validate test-libvirt-xml \
	test-legacy-rules test-rating test-deadlines test-cloud-init test-osb-params test-capacity-ledger test-digest
LAYERED_DIRS := basic policy catalog drivers migration daemon daemon/infra daemon/core daemon/rest daemon/bus ctl
ALL_C := $(wildcard $(addsuffix /*.[ch],$(LAYERED_DIRS)) tests/unit/*.[ch] bench/*.c tests/osb-provider/*.c \
	tests/tools/*.c)

lobjs = $(1:%.c=$(BUILD)/obj/%.o)
CTL_OBJS := $(call lobjs,$(CTL_SRCS))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run check test lint layers format format-check cppcheck install clean bench units-check

all: $(BUILD)/cloudbrokerd $(BUILD)/cloudbrokerctl dev-key-mode

# The daemon refuses a checkpoint key others may read, and git keeps no modes.
.PHONY: dev-key-mode
dev-key-mode:
	@chmod 0600 etc/dev-keys/dev-checkpoint.key.pem etc/dev-keys/dev-secrets.key

$(call lobjs,$(L1_SRCS)): LAYER_INC := $(L1_INC)
$(call lobjs,$(L2_SRCS)): LAYER_INC := $(L2_INC)
$(call lobjs,$(L3_SRCS)): LAYER_INC := $(L3_INC)
$(call lobjs,$(L4_SRCS)): LAYER_INC := $(L4_INC)
$(call lobjs,$(L5_SRCS) daemon/main.c): LAYER_INC := $(L5_INC)
$(CTL_OBJS): LAYER_INC := $(L3_INC) -Ictl

$(BUILD)/layers.ok: layers.txt scripts/check-layers.sh $(ALL_C)
	@mkdir -p $(dir $@)
	@./scripts/check-layers.sh
	@touch $@

$(BUILD)/obj/%.o: %.c | $(BUILD)/layers.ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LAYER_INC) -MMD -MP -c $< -o $@

$(BUILD)/libcb-basic.a: $(call lobjs,$(L1_SRCS))
$(BUILD)/libcb-domain.a: $(call lobjs,$(L2_SRCS))
$(BUILD)/libcb-infra.a: $(call lobjs,$(L3_SRCS))
$(BUILD)/libcb-core.a: $(call lobjs,$(L4_SRCS))
$(BUILD)/libcb-faces.a: $(call lobjs,$(L5_SRCS))
$(BUILD)/libcb-%.a:
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/cloudbrokerd: $(BUILD)/obj/daemon/main.o $(LAYER_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/cloudbrokerctl: $(CTL_OBJS) $(BUILD)/libcb-infra.a $(BUILD)/libcb-domain.a $(BUILD)/libcb-basic.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(addprefix $(BUILD)/tests/,$(DOMAIN_TESTS)): $(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcb-domain.a \
		$(BUILD)/libcb-basic.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(L2_INC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm -lcmocka

$(BUILD)/tests/%: tests/unit/%.c $(LAYER_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCLUDES) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# The test OSB provider (tests/osb-provider/): standalone, nothing of the
# daemon's layers; the http driver's unit test and the integration tests run it.
OSB_PROVIDER := $(BUILD)/tests/osb-provider
$(OSB_PROVIDER): tests/osb-provider/osb-provider.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs libmicrohttpd jansson) -lpthread

$(BUILD)/tests/test-driver-http: | $(OSB_PROVIDER)

# Tools for tests (tests/tools/): make-old-store writes a database at an
# older schema version (store_open_at_version) for the upgrade tests. Not
# named test-*, so tests/run.sh does not run it as a test.
TEST_TOOLS := $(BUILD)/tests/make-old-store
$(BUILD)/tests/make-old-store: tests/tools/make-old-store.c $(BUILD)/libcb-infra.a $(BUILD)/libcb-domain.a \
		$(BUILD)/libcb-basic.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(L3_INC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/test-store: | $(BUILD)/tests/make-old-store

unit-bins: $(UNIT_BINS) $(OSB_PROVIDER) $(TEST_TOOLS)

deps:
	@./scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all $(OSB_PROVIDER)
	@./scripts/run-dev.sh

# One pass: lint, the plain build's tests, then the same tests under
# ASan+UBSan in a separate build tree, then a few seconds of each fuzzer.
check: deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory all unit-bins
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 all unit-bins
	@$(MAKE) --no-print-directory fuzz-bins
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS) ./tests/run.sh build build-asan

test: all unit-bins
	@./tests/run.sh $(BUILD)

lint: layers format-check cppcheck

layers:
	@./scripts/check-layers.sh && echo "layers: ok"

format:
	clang-format -i $(ALL_C)

format-check:
	@clang-format --dry-run --Werror $(ALL_C) && echo "format: ok"

# cppcheck cannot follow __attribute__((cleanup)), so its leak checks only
# produce false alarms here; leaks are caught by ASan/LSan in `make check`.
cppcheck:
	@cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem --suppress=memleak --suppress=resourceLeak \
		--library=tests/lint/jansson.cfg --std=c11 -D__GNUC__ \
		$(INCLUDES) -Ictl basic daemon catalog policy drivers migration ctl tests/unit tests/tools && echo "cppcheck: ok"

bench: deps
	@./scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory all
	@./bench/run.sh

install: all
	install -Dm755 $(BUILD)/cloudbrokerd $(DESTDIR)$(PREFIX)/libexec/cloudbroker/cloudbrokerd
	install -Dm755 $(BUILD)/cloudbrokerctl $(DESTDIR)$(PREFIX)/bin/cloudbrokerctl
	@$(MAKE) --no-print-directory -f units/install.mk DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) SYSCONFDIR=$(SYSCONFDIR) install-units

clean:
	rm -rf build build-asan $(FUZZ_BUILD)

include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# valgrind memcheck (no memory error, no "definitely lost") over every unit
# test binary and one integration script with the daemon under valgrind
# (tests/valgrind.sh; 50-70 s on the 2-CPU development machine, 4 min when
# it is busy). Apart from `make check`, which runs everything under ASan+UBSan.
.PHONY: valgrind soak
valgrind: deps
	@./scripts/install-deps.sh --valgrind
	@$(MAKE) --no-print-directory all unit-bins
	@./tests/valgrind.sh $(BUILD)

# The soak benchmark alone (bench/soak.sh; SOAK_SECONDS=60 for a short run).
soak: deps
	@$(MAKE) --no-print-directory all
	@./bench/soak.sh $(BUILD)
