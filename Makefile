# outpost - build, test, bench. `make help` lists the targets.
#
# Folders are layers (docs/ARCHITECTURE.md): hal/ store/ net/ config/ make
# liboutpost.a; firmware/ makes the daemon; tools/ link liboutpost.a only.
# Every file is picked up by wildcard: adding a module needs no edit here.

CROSS ?=
CURL ?= static
SAN ?=
CRASH ?=
VERSION := 0.1.0
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null || date +%s)

# STATIC=1: outpostd and outpostctl with libcurl, mbedTLS, lmdb, libmosquitto
# (without TLS: no libssl or libcrypto in the process) and cJSON linked in,
# built from Debian's sources (scripts/build-dep.sh); glibc stays shared (its
# resolver and user lookups load NSS modules at run time). Own objects.
STATIC ?=
ifneq ($(STATIC),)
BUILD ?= build/$(if $(CROSS),$(CROSS)/,)static
endif
ifneq ($(CROSS),)
BUILD ?= build/$(CROSS)
CC := $(CROSS)-gcc
AR := $(CROSS)-ar
STRIP := $(CROSS)-strip
SETUP_KIND := cross-$(CROSS)
else ifneq ($(SAN),)
BUILD ?= build/san
SETUP_KIND := base
else ifneq ($(CRASH),)
BUILD ?= build/crash
SETUP_KIND := base
else
BUILD ?= build
SETUP_KIND := base
endif
ifeq ($(CURL),system)
SETUP_KIND := system-curl
endif

# 32-bit targets: 64-bit file offsets (stores over 2 GiB) and 64-bit time_t
# (dates after 2038). Debian 12's armhf libraries keep a 32-bit time_t: no
# API that outpostd calls passes a time_t or off_t across (docs/INSTALL.md,
# "32-bit ARM"; tests/arm/abi.sh checks the headers).
ifeq ($(CROSS),arm-linux-gnueabihf)
TARGET_CPPFLAGS := -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64
endif

STRIP ?= strip

# V=1 shows every command line.
Q = $(if $(V),,@echo "  CC    $<";)
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wmissing-declarations -Wformat=2 \
	-fno-strict-aliasing -D_GNU_SOURCE -I. -MMD -MP \
	-DOUTPOST_VERSION='"$(VERSION)"' -DOUTPOST_GIT_REV='"$(GIT_REV)"' \
	-DOUTPOST_BUILD_EPOCH=$(BUILD_EPOCH) $(TARGET_CPPFLAGS)
# CRASH=1: the named crash points of hal/crash.h are compiled in.
ifneq ($(CRASH),)
CFLAGS += -DOUTPOST_CRASH_POINTS
endif
# STATIC=1: unused functions and data of ours and of the libraries built
# from source (scripts/build-dep.sh) are left out of the binary.
# --as-needed: a shared library only if something calls into it (libm went:
# 320 KiB of resident map for one floor()).
ifneq ($(STATIC),)
CFLAGS += -ffunction-sections -fdata-sections
LDFLAGS += -Wl,--gc-sections -Wl,--as-needed
endif
ifneq ($(SAN),)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

ifeq ($(CURL),system)
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
# -lnghttp2: tests/unit/test_http2.c's server uses it (Debian's libcurl
# links it anyway).
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl) -lnghttp2
CURL_DEP :=
else
CURL_DIR := build/$(if $(CROSS),$(CROSS)/,)curl
CURL_CFLAGS := -I$(CURL_DIR)/include -DCURL_STATICLIB
# HTTP/2: Debian's libnghttp2.a by name, so the gateway needs no libnghttp2.
CURL_LIBS := $(CURL_DIR)/lib/libcurl.a -l:libnghttp2.a
CURL_DEP := $(CURL_DIR)/lib/libcurl.a
endif

# Libraries built from Debian's sources with our flags (scripts/build-dep.sh)
# into build/[TRIPLET/]deps/NAME: all of them for STATIC=1, and lmdb
# (LMDB=static) on 32-bit targets, where Debian 12's liblmdb0 has a 32-bit
# off_t and its stores stop at 2 GiB.
LMDB ?= $(if $(TARGET_CPPFLAGS),static,system)
DEPS_DIR := build/$(if $(CROSS),$(CROSS)/,)deps
STATIC_DEPS := $(if $(STATIC),mbedtls mosquitto cjson lmdb,$(if $(filter static,$(LMDB)),lmdb))
DEP_STAMPS := $(foreach d,$(STATIC_DEPS),$(DEPS_DIR)/$(d)/debian-source-version)
CFLAGS += $(foreach d,$(STATIC_DEPS),-I$(DEPS_DIR)/$(d)/include)
# STATIC=1: libcurl of its own, compiled against that mbedTLS (configured
# down by scripts/mbedtls_outpost.h: curl embeds structs whose size follows
# the configuration).
ifneq ($(STATIC),)
ifneq ($(CURL),system)
CURL_DIR := $(DEPS_DIR)/curl
CURL_MBEDTLS := $(DEPS_DIR)/mbedtls
CURL_CFLAGS := -I$(CURL_DIR)/include -DCURL_STATICLIB
CURL_LIBS := $(CURL_DIR)/lib/libcurl.a -l:libnghttp2.a
CURL_DEP := $(CURL_DIR)/lib/libcurl.a
endif
endif
CFLAGS += $(CURL_CFLAGS)
# dep_libs NAME,ARCHIVES,SYSTEM: the archives built for NAME, or -l flags.
dep_libs = $(if $(filter $(1),$(STATIC_DEPS)),$(addprefix $(DEPS_DIR)/$(1)/lib/,$(2)),$(3))

LIBS := $(CURL_LIBS) $(call dep_libs,mosquitto,libmosquitto.a,-lmosquitto) \
	$(call dep_libs,lmdb,liblmdb.a,-llmdb) \
	$(call dep_libs,mbedtls,libmbedtls.a libmbedx509.a libmbedcrypto.a,-lmbedtls -lmbedx509 -lmbedcrypto) \
	$(call dep_libs,cjson,libcjson.a,-lcjson) -lpthread -lm

LIB_SRC := $(wildcard hal/*.c store/*.c net/*.c net/providers/*.c config/*.c)
FW_SRC := $(filter-out firmware/main.c,$(wildcard firmware/*.c firmware/control/*.c firmware/sender/*.c))
CTL_SRC := $(wildcard tools/outpostctl/*.c)
SIM_SRC := $(wildcard tools/twilio-sim/*.c)
PUB_SRC := $(wildcard tools/loadgen/*.c)
CHECK_SRC := $(wildcard tools/checker/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_A := $(BUILD)/liboutpost.a
FW_A := $(BUILD)/libfirmware.a
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
SETUP := $(BUILD)/.setup/$(SETUP_KIND)

ifneq ($(CROSS)$(STATIC),)
all: $(BUILD)/outpostd $(BUILD)/outpostctl
else
all: $(BUILD)/outpostd $(BUILD)/outpostctl $(BUILD)/twilio-sim $(BUILD)/outpost-pub \
	$(if $(CHECK_SRC),$(BUILD)/outpost-check)
endif

$(SETUP): scripts/setup.sh
	OUTPOST_SETUP_STAMP=$(BUILD)/.setup scripts/setup.sh $(SETUP_KIND)

$(CURL_DIR)/lib/libcurl.a: scripts/build-curl.sh $(if $(CURL_MBEDTLS),$(CURL_MBEDTLS)/debian-source-version) | $(SETUP)
	CPPFLAGS="$(strip $(CPPFLAGS) $(TARGET_CPPFLAGS))" scripts/build-curl.sh $(CURL_DIR) "$(CROSS)" $(CURL_MBEDTLS)

$(DEPS_DIR)/mbedtls/debian-source-version: scripts/mbedtls_outpost.h
$(DEPS_DIR)/%/debian-source-version: scripts/build-dep.sh | $(SETUP)
	CPPFLAGS="$(strip $(CPPFLAGS) $(TARGET_CPPFLAGS))" scripts/build-dep.sh $* $(DEPS_DIR)/$* $(CROSS)

$(BUILD)/obj/%.o: %.c | $(SETUP) $(CURL_DEP) $(DEP_STAMPS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB_A): $(call obj,$(LIB_SRC))
	@rm -f $@
	$(AR) rcs $@ $^

$(FW_A): $(call obj,$(FW_SRC))
	@rm -f $@
	$(AR) rcs $@ $^

# The linker maps (outpostd.map, outpostctl.map) say what each library
# adds to the binary: make size-report.
# The static outpostd links no libm: a call into it (llround came back
# with the quotas, 300 KiB of resident map again) fails the link instead.
$(BUILD)/outpostd: $(call obj,firmware/main.c) $(FW_A) $(LIB_A) $(CURL_DEP) $(DEP_STAMPS)
	$(CC) $(LDFLAGS) -Wl,-Map=$@.map -o $@ $(filter %.o %.a,$^) \
		$(if $(STATIC),$(filter-out -lm,$(LIBS)),$(LIBS))

$(BUILD)/outpostctl: $(call obj,$(CTL_SRC)) $(LIB_A) $(DEP_STAMPS)
	$(CC) $(LDFLAGS) -Wl,-Map=$@.map -o $@ $(filter %.o %.a,$^) $(LIBS)

$(BUILD)/twilio-sim: $(call obj,$(SIM_SRC)) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd $(LIBS)

$(BUILD)/outpost-pub: $(call obj,$(PUB_SRC)) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/outpost-check: $(call obj,$(CHECK_SRC)) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(FW_A) $(LIB_A) $(DEP_STAMPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) -lcmocka $(LIBS)

.SECONDARY:
.PHONY: all setup unit e2e check demo bench clean help san-check valgrind-check reliability-check \
	install uninstall deb check-arm arm-tests size-report static-deps
setup: $(SETUP)

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

e2e: all
	@BUILD=$(BUILD) tests/e2e/run.sh

# The whole suite: unit and end-to-end tests, then the unit tests and the
# end-to-end tests again under ASan+UBSan, a valgrind memcheck run, the quick
# zero-loss tests and brief fuzzing. End-to-end and zero-loss tests run two at
# a time (tests/e2e/run.sh); E2E_JOBS=1 runs them one after the other.
check: all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory man-check
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory san-check
	@$(MAKE) --no-print-directory valgrind-check
	@$(MAKE) --no-print-directory reliability-check
	@$(MAKE) --no-print-directory fuzz-check

# The zero-loss tests of docs/RELIABILITY.md, quick forms (tests/torture/;
# the long forms are `make torture`). Crash points need the crash build.
# They and torture-check's two run through tests/e2e/run.sh, E2E_JOBS (2) at
# a time (E2E_JOBS=1: one after the other), but the busy ones never beside
# each other: paired on a loaded machine, crashpoints' bursts were ingested in
# fewer commits than the crash pass it drew.
RELIABILITY_TESTS := crashpoints killstorm diskfull broker poison clock vaultcrash powercut ioerr
RELIABILITY_APART := crashpoints killstorm powercut ioerr
reliability-check: torture-bins
	@$(MAKE) --no-print-directory CRASH=1 all
	@BUILD=$(BUILD) E2E_APART="$(RELIABILITY_APART)" tests/e2e/run.sh \
		$(patsubst %,tests/torture/test_%.sh,$(RELIABILITY_TESTS))

san-check:
	@$(MAKE) --no-print-directory SAN=1 unit
	@$(MAKE) --no-print-directory SAN=1 all
	@BUILD=build/san E2E_ONLY="$(SAN_E2E)" E2E_SKIP="$(SAN_E2E_SKIP)" tests/e2e/run.sh

# Every end-to-end test runs under ASan+UBSan too; SAN_E2E="a b" picks some.
# Left out: the tests that run no code of ours under the sanitizers (the
# package, which has its own build; install, OpenWrt and systemd files).
SAN_E2E ?=
SAN_E2E_SKIP ?= deb install openwrt unit
valgrind-check: all
	@BUILD=$(BUILD) E2E_VALGRIND=1 E2E_ONLY=bad_input tests/e2e/run.sh

# ---- ARM under emulation (docs/INSTALL.md, "Cross builds") ----
# Both cross builds and their unit tests, then tests/arm/check.sh: the unit
# tests under qemu-user, the end-to-end core path and a short kill storm
# with the ARM outpostd against the native broker and twilio-sim, the core
# path with the static build (STATIC=1), the armhf ABI check and the store
# format across word sizes. Its own target: make check stays quick.
ARM_TARGETS ?= aarch64-linux-gnu arm-linux-gnueabihf
check-arm: all
	@OUTPOST_SETUP_STAMP=build/.setup scripts/setup.sh emu
	@for t in $(ARM_TARGETS); do \
		$(MAKE) --no-print-directory CROSS=$$t all arm-tests && \
		$(MAKE) --no-print-directory CROSS=$$t STATIC=1 all || exit 1; done
	@bash tests/arm/check.sh $(ARM_TARGETS)

arm-tests: $(UNIT_BIN)

# The libraries this build links in from Debian's sources (scripts/build-dep.sh,
# one per line: the Debian source package and its version), for the
# package's Built-Using (debian/rules).
static-deps: $(DEP_STAMPS)
	@for d in $(STATIC_DEPS); do echo "$$d $$(cat $(DEPS_DIR)/$$d/debian-source-version)"; done

# Stripped sizes of outpostd and outpostctl, and what each library adds
# (docs/BENCHMARKS.md, "On the gateway"). CROSS= and STATIC= as for make.
size-report: $(BUILD)/outpostd $(BUILD)/outpostctl
	@for b in outpostd outpostctl; do \
		$(STRIP) -o $(BUILD)/$$b.stripped $(BUILD)/$$b || exit 1; \
		echo "$$b ($(BUILD)): $$(stat -c %s $(BUILD)/$$b.stripped) bytes stripped; KiB by library:"; \
		scripts/size-report.sh $(BUILD)/$$b.map | sed 's/^/    /'; done

demo: all
	@BUILD=$(BUILD) scripts/demo.sh

bench: all
	@BUILD=$(BUILD) tools/bench/run.sh

# ---- install (docs/INSTALL.md) ----
# FHS paths as Debian 12 lays them out. The config directory is /etc/outpost
# whatever the prefix: it is the daemon's default. Units, sysusers.d and
# tmpfiles.d go where Debian 12's systemd.pc says (/lib/systemd/system,
# /usr/lib/...) for PREFIX=/usr, else under the prefix. /var/lib/outpost and
# /run/outpost are not installed: the unit's StateDirectory= and
# RuntimeDirectory= make them (and outpostd does, started without systemd).
# Man pages (man/*.[1-8]) and the bash completion are installed when there.
PREFIX ?= /usr
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/outpost
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
CONFDIR ?= /etc/outpost
SYSLIBDIR := $(if $(filter /usr,$(PREFIX)),/usr/lib,$(PREFIX)/lib)
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(SYSLIBDIR)/sysusers.d
TMPFILESDIR ?= $(SYSLIBDIR)/tmpfiles.d
INSTALL ?= install
MAN_PAGES := $(wildcard man/*.[1-8])
BASH_COMP := $(wildcard packaging/bash-completion/outpostctl)
DOC_FILES := README.md $(wildcard docs/*.md)
EXAMPLES := $(wildcard config/examples/* config/mosquitto/*.conf)

install: $(BUILD)/outpostd $(BUILD)/outpostctl
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 0755 $(BUILD)/outpostd $(DESTDIR)$(SBINDIR)/outpostd
	$(INSTALL) -m 0755 $(BUILD)/outpostctl $(DESTDIR)$(BINDIR)/outpostctl
	sed 's|/usr/sbin/outpostd|$(SBINDIR)/outpostd|' packaging/systemd/outpostd.service \
		>$(DESTDIR)$(UNITDIR)/outpostd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/outpostd.service
	$(INSTALL) -m 0644 packaging/systemd/outpost.sysusers $(DESTDIR)$(SYSUSERSDIR)/outpost.conf
	$(INSTALL) -m 0644 packaging/systemd/outpost.tmpfiles $(DESTDIR)$(TMPFILESDIR)/outpost.conf
	$(INSTALL) -d -m 0755 $(DESTDIR)$(CONFDIR)
	$(INSTALL) -m 0644 config/examples/outpost.json $(DESTDIR)$(CONFDIR)/outpost.json.example
	@# The config is the operator's: never overwritten.
	[ -e $(DESTDIR)$(CONFDIR)/outpost.json ] || \
		$(INSTALL) -m 0644 config/examples/outpost.json $(DESTDIR)$(CONFDIR)/outpost.json
	$(INSTALL) -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/
	@for m in $(MAN_PAGES); do s=$${m##*.}; \
		echo "$(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/"; \
		$(INSTALL) -d $(DESTDIR)$(MANDIR)/man$$s && \
		$(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done
	$(if $(BASH_COMP),$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR) && \
		$(INSTALL) -m 0644 $(BASH_COMP) $(DESTDIR)$(BASHCOMPDIR)/outpostctl)
	@echo "installed. Then, as root: systemd-sysusers; systemd-tmpfiles --create outpost.conf;"
	@echo "edit $(CONFDIR)/outpost.json; systemctl daemon-reload; systemctl enable --now outpostd"

# Removes what install put there, except $(CONFDIR)/outpost.json (the
# operator's config, kept like a conffile) and the store in /var/lib/outpost.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/outpostd $(DESTDIR)$(BINDIR)/outpostctl \
		$(DESTDIR)$(UNITDIR)/outpostd.service $(DESTDIR)$(SYSUSERSDIR)/outpost.conf \
		$(DESTDIR)$(TMPFILESDIR)/outpost.conf $(DESTDIR)$(CONFDIR)/outpost.json.example \
		$(DESTDIR)$(BASHCOMPDIR)/outpostctl
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES))) \
		$(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(notdir $(EXAMPLES)))
	@for m in $(MAN_PAGES); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null

# ---- Debian package (debian/, docs/INSTALL.md) ----
# dpkg-buildpackage and debhelper around the targets above: the .deb (and
# its .buildinfo and .changes) go to build/deb/, never to the parent
# directory. CROSS=aarch64-linux-gnu builds the arm64 package (nocheck:
# nothing runs arm64 binaries here; the tests are make check's). The version
# is debian/changelog's, which must be VERSION.
DEB_ARCH = $(shell dpkg-architecture -qDEB_HOST_ARCH $(if $(CROSS),-t$(CROSS)) 2>/dev/null)
DEB_OUT = build/deb/outpost_$(VERSION)_$(DEB_ARCH)
deb: | $(SETUP)
	@v=$$(dpkg-parsechangelog -S Version); [ "$$v" = "$(VERSION)" ] || { echo \
		"debian/changelog is at $$v, the Makefile at $(VERSION): add an entry (dch -v $(VERSION))" >&2; \
		exit 1; }
	@mkdir -p build/deb
	$(if $(CROSS),CC=$(CROSS)-gcc DEB_BUILD_OPTIONS=nocheck) \
		dpkg-buildpackage -b -us -uc $(if $(CROSS),-a$(DEB_ARCH)) \
		--buildinfo-option=-ubuild/deb --buildinfo-file=$(DEB_OUT).buildinfo \
		--changes-option=-ubuild/deb --changes-file=$(DEB_OUT).changes
	@echo "built $(DEB_OUT).deb"

# Test harnesses with their own targets (fuzzing, torture) bring their
# rules in make fragments next to their sources.
include $(wildcard tests/*/*.mk)

clean:
	rm -rf build

help:
	@echo "make            build build/outpostd, outpostctl, twilio-sim, outpost-pub"
	@echo "make demo       run broker + twilio-sim + outpostd on loopback with sample events"
	@echo "make check      build and run every test (unit, end-to-end, sanitizers, valgrind)"
	@echo "make man-check  lint the man pages, check they cover every config key and command"
	@echo "make bench      measure ingest, sends/s, latency and RSS (docs/BENCHMARKS.md)"
	@echo "make torture    the long zero-loss tests (docs/RELIABILITY.md); CRASH=1 builds crash points"
	@echo "make fuzz       run the fuzz targets longer (tests/fuzz/)"
	@echo "make CROSS=aarch64-linux-gnu   cross-compile outpostd and outpostctl for arm64"
	@echo "make CROSS=arm-linux-gnueabihf for armhf (32-bit; 64-bit time_t and file offsets)"
	@echo "make check-arm  both cross builds tested under qemu-user (unit, e2e core path, kill storm)"
	@echo "make size-report  stripped sizes and what each library adds (CROSS= too)"
	@echo "make CURL=system               link Debian's libcurl instead of ours on mbedTLS"
	@echo "make setup      install the Debian packages the build and tests need"
	@echo "make install    outpostd, outpostctl, the systemd unit, config example, docs"
	@echo "                (PREFIX=/usr, DESTDIR=; docs/INSTALL.md); make uninstall"
	@echo "make deb        build/deb/outpost_$(VERSION)_<arch>.deb (CROSS=aarch64-linux-gnu: arm64)"

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
