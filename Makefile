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

PKGS := libvirt libcurl jansson libconfig libsystemd libmicrohttpd sqlite3 libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

INCLUDES := -Idaemon -Icatalog -Ipolicy -Idrivers
CFLAGS := -std=gnu11 -Wall -Wextra -Werror -g -O2 -D_GNU_SOURCE -DCB_VERSION='"$(VERSION)"' \
	-fno-strict-aliasing $(INCLUDES) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread -lm
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O1
LDFLAGS += -fsanitize=address,undefined
endif

# EXCLUDE lets a developer build around a module that is mid-change, e.g. EXCLUDE='drivers/%'.
EXCLUDE ?=
LIB_SRCS := $(filter-out daemon/main.c $(EXCLUDE),$(wildcard daemon/*.c catalog/*.c policy/*.c drivers/*.c))
CTL_SRCS := $(wildcard ctl/*.c)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
ALL_C := $(wildcard daemon/*.[ch] catalog/*.[ch] policy/*.[ch] drivers/*.[ch] ctl/*.[ch] tests/unit/*.[ch] bench/*.c)

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CTL_OBJS := $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run check test lint format format-check cppcheck install clean bench units-check

all: $(BUILD)/cloudbrokerd $(BUILD)/cloudbrokerctl

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libcloudbroker.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/cloudbrokerd: $(BUILD)/obj/daemon/main.o $(BUILD)/libcloudbroker.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/cloudbrokerctl: $(CTL_OBJS) $(BUILD)/libcloudbroker.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcloudbroker.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libcloudbroker.a $(LDLIBS) -lcmocka

unit-bins: $(UNIT_BINS)

deps:
	@./scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
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

lint: format-check cppcheck

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
		$(INCLUDES) daemon catalog policy drivers ctl tests/unit && echo "cppcheck: ok"

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
