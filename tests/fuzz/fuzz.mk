# libFuzzer targets (clang, ASan+UBSan), each one C file here plus its corpus/<name>/:
#   fuzz_event   MQTT topic + payload through firmware/router.c into a real LMDB store
#   fuzz_config  config/config.c cfg_parse() on a config file's text
#   fuzz_twilio  net/providers/twilio.c outcome() and list_page(), twilio_content.c templates_page(),
#                on an HTTP status, Retry-After and body
#   fuzz_meta    net/providers/meta*.c (meta, 360dialog) outcome(), templates_page() and build()
#   fuzz_ctl     a control client's byte stream: net/ctl.c framing, firmware/control/dispatch.c replies
#                (through control/socket.c)
#   fuzz_frame   a serial line's byte stream through net/frame.c's decoder, in two splits
#   fuzz_secrets credentials entries (config/secrets.c): the import, the vault reload, creds set
#   fuzz_cmdauth an MQTT command envelope (net/cmdauth.c): parse, sign, nonce cache
#   fuzz_webhook a relayed webhook body (Twilio form, Meta JSON) and a Twilio status fetch answer
# make fuzz-check  replays every corpus file, then fuzzes each target FUZZ_CHECK_SECONDS (15)
#                  in a scratch corpus; fails on a crash, leak, UBSan report or broken oracle.
# make fuzz        fuzzes each FUZZ_SECONDS (600) from corpus/<name>/ into build/fuzz/corpus-<name>;
#                  crashes land in build/fuzz/crashes/: add them to corpus/<name>/ with the fix.
# FUZZ_TARGETS="ctl event" picks targets; FUZZ_JOBS (2) run side by side; logs: build/fuzz/*.log

FUZZ_DIR := build/fuzz
FUZZ_CC ?= clang
FUZZ_NAMES := event config twilio meta ctl frame secrets cmdauth webhook
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_CHECK_SECONDS ?= 15
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 2

FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Project code is built again with clang, instrumented for coverage (never
# liboutpost.a from gcc; no crash points, whatever CRASH says); only the harness
# objects get libFuzzer's main() (-fsanitize=fuzzer at link time).
FUZZ_CFLAGS := -std=gnu11 -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	-Wall -Wextra -Wmissing-declarations -Wformat=2 -fno-strict-aliasing \
	-D_GNU_SOURCE -I. -MMD -MP $(CURL_CFLAGS) \
	-DOUTPOST_VERSION='"$(VERSION)"' -DOUTPOST_GIT_REV='"$(GIT_REV)"' \
	-DOUTPOST_BUILD_EPOCH=$(BUILD_EPOCH)
FUZZ_LDFLAGS := $(FUZZ_SAN) -fsanitize=fuzzer

FUZZ_PROJ_OBJ := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRC) $(FW_SRC))
FUZZ_LIB := $(FUZZ_DIR)/liboutpost-fuzz.a
FUZZ_RUN = tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_JOBS)

$(FUZZ_DIR)/obj/%.o: %.c | $(SETUP) $(CURL_DEP)
	@mkdir -p $(dir $@)
	$(if $(V),,@echo "  FUZZCC $<";)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

# Harness files: warnings are errors, as in the rest of the tree.
$(FUZZ_DIR)/obj/tests/fuzz/%.o: FUZZ_CFLAGS += -Werror

$(FUZZ_LIB): $(FUZZ_PROJ_OBJ)
	@rm -f $@
	$(if $(V),,@echo "  FUZZAR $@";)$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_event $(FUZZ_DIR)/fuzz_ctl: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_fw.o

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB) $(CURL_DEP)
	$(if $(V),,@echo "  FUZZLD $@";)$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ \
		$(filter %.o,$^) $(FUZZ_LIB) $(LIBS)

.PHONY: fuzz-build fuzz-check fuzz
ifneq ($(CROSS),)
fuzz-build:
	@echo "fuzz targets run on the build host: drop CROSS=$(CROSS)" >&2; exit 1
else
fuzz-build: $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))
endif

fuzz-check: fuzz-build
	@$(FUZZ_RUN) check $(FUZZ_CHECK_SECONDS) $(FUZZ_TARGETS)

fuzz: fuzz-build
	@$(FUZZ_RUN) long $(FUZZ_SECONDS) $(FUZZ_TARGETS)

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
