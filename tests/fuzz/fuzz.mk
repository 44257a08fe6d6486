# SPDX-License-Identifier: Apache-2.0
#
# libFuzzer harnesses (tests/fuzz/fuzz-*.c), included by the Makefile.
#
# `make fuzz-bins`   the layer libraries again, built by the Makefile's own
#                    rules with clang-14, coverage instrumentation and
#                    ASan+UBSan, in $(FUZZ_BUILD), and one binary a harness
# `make fuzz`        replays every seed corpus, then fuzzes each harness for
#                    FUZZ_SECONDS (default 60); the corpus grows in
#                    $(FUZZ_BUILD)/corpus/NAME, crashes land in
#                    $(FUZZ_BUILD)/artifacts/
# `make check`       the same for FUZZ_CHECK_SECONDS (5) a harness
#
# Seeds: tests/fuzz/corpus/NAME/, one folder a harness; every crash found
# is added there, so each later run replays it.

FUZZ_BUILD ?= build-fuzz
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 5
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

# `make format` and `make lint` cover the harnesses too.
ALL_C += $(wildcard tests/fuzz/*.[ch])

.PHONY: fuzz fuzz-bins fuzz-harnesses

fuzz-bins:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) \
		EXTRA_CFLAGS="$(FUZZ_SANITIZE) -fsanitize=fuzzer-no-link" fuzz-harnesses

# Only meaningful inside fuzz-bins, where BUILD is $(FUZZ_BUILD).
fuzz-harnesses: $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c $(wildcard tests/fuzz/*.h) $(LAYER_LIBS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ-LD $@"
	@$(CC) $(CFLAGS) $(INCLUDES) -Itests/fuzz -DCB_SOURCE_DIR='"$(CURDIR)"' -fsanitize=fuzzer $(LDFLAGS) \
		-o $@ $< $(LAYER_LIBS) $(LDLIBS)

fuzz: deps fuzz-bins
	@./tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)
