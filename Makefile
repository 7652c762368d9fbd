# groqgate — make builds bin/groqgated, bin/groqtop, bin/fakegroq.
#   make            build (warnings shown; WERROR=1 makes them errors)
#   make check      install missing packages, build, run every test
#   make asan       the whole check under ASan+UBSan (build/asan, own bin)
#   make demo       install, build, run the live demo (see README.md)
#   make install PREFIX=/usr/local
.SUFFIXES:

CC      ?= cc
PREFIX  ?= /usr/local
O       ?= build/default
BIN     ?= bin
PKGCONF ?= pkg-config

WARN = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wwrite-strings
ifeq ($(WERROR),1)
WARN += -Werror
endif
ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT = -O1 -g
else
OPT ?= -O2 -g
endif

DEPS_COMMON  = jansson libconfig libcrypto libssl
DEPS_GATEWAY = $(DEPS_COMMON) libevent libevent_openssl libssl libcurl sqlite3 libpq hiredis
DEPS_FAKE    = $(DEPS_COMMON) libevent
DEPS_CONSOLE = $(DEPS_COMMON) libcurl ncursesw
DEPS_CTL     = $(DEPS_COMMON) libcurl

pc_cflags = $(shell $(PKGCONF) --cflags $(1))
pc_libs   = $(shell $(PKGCONF) --libs $(1))
# asked once per make (on first use), not once per object
CF_COMMON = $(eval CF_COMMON := $(call pc_cflags,$(DEPS_COMMON) libevent))$(CF_COMMON)
CF_GATEWAY = $(eval CF_GATEWAY := $(call pc_cflags,$(DEPS_GATEWAY)))$(CF_GATEWAY)
CF_CONSOLE = $(eval CF_CONSOLE := $(call pc_cflags,$(DEPS_CONSOLE)))$(CF_CONSOLE)
CF_FAKE = $(eval CF_FAKE := $(call pc_cflags,$(DEPS_FAKE)))$(CF_FAKE)
CF_CTL = $(eval CF_CTL := $(call pc_cflags,$(DEPS_CTL)))$(CF_CTL)
LIBS_CTL = $(eval LIBS_CTL := $(call pc_libs,$(DEPS_CTL)))$(LIBS_CTL)
CF_TESTS = $(eval CF_TESTS := $(call pc_cflags,$(DEPS_GATEWAY) ncursesw))$(CF_TESTS)
LIBS_GATEWAY = $(eval LIBS_GATEWAY := $(call pc_libs,$(DEPS_GATEWAY)))$(LIBS_GATEWAY)
LIBS_CONSOLE = $(eval LIBS_CONSOLE := $(call pc_libs,$(DEPS_CONSOLE)))$(LIBS_CONSOLE)
LIBS_FAKE = $(eval LIBS_FAKE := $(call pc_libs,$(DEPS_FAKE)))$(LIBS_FAKE)
LIBS_TESTS = $(eval LIBS_TESTS := $(call pc_libs,$(DEPS_GATEWAY) ncursesw))$(LIBS_TESTS)

CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) \
	     -Iinclude -MMD -MP $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

COMMON_SRC  = $(wildcard src/common/*.c)
# the gateway's rooms, lowest first: each calls only those before it
# (tests/integration/layers.sh); main.c above them all
ROOMS       = core net store record cluster org data admin
GATEWAY_SRC = src/gateway/main.c $(foreach r,$(ROOMS),$(wildcard src/gateway/$(r)/*.c))
GATEWAY_INC = -Isrc/gateway $(addprefix -Isrc/gateway/,$(ROOMS))
CONSOLE_SRC = $(wildcard src/console/*.c)
GROQ_SRC    = $(wildcard src/groq/*.c)
FAKE_SRC    = $(wildcard src/fakegroq/*.c)
CTL_SRC     = $(wildcard src/ctl/*.c)
UNIT_SRC    = $(wildcard tests/unit/*.c)

objs = $(patsubst %.c,$(O)/%.o,$(1))
COMMON_OBJ  = $(call objs,$(COMMON_SRC))
GATEWAY_OBJ = $(call objs,$(GATEWAY_SRC))
CONSOLE_OBJ = $(call objs,$(CONSOLE_SRC))
GROQ_OBJ    = $(call objs,$(GROQ_SRC))
FAKE_OBJ    = $(call objs,$(FAKE_SRC))
CTL_OBJ     = $(call objs,$(CTL_SRC))
# the console's pure modules (no terminal), for unit tests
CONSOLE_LIB_OBJ = $(call objs,src/console/model.c src/console/canvas.c src/console/theme.c src/console/listw.c)

# shared code as archives: each program links only the modules it uses
# (groqtop takes no HTTP server, so no libevent; of Groq's own, only its
# key format)
COMMON_LIB = $(O)/libcommon.a
GROQ_LIB   = $(O)/libgroq.a
# one archive per room, for the unit tests and the fuzz harnesses (each
# takes only what its entry point reaches), linked highest room first
room_lib = $(O)/libgw-$(1).a
GATEWAY_LIBS = $(foreach r,$(call reverse,$(ROOMS)),$(call room_lib,$(r)))
reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))

PROGS = $(BIN)/groqgated $(BIN)/groqtop $(BIN)/fakegroq $(BIN)/groqctl

all: $(PROGS)

$(O)/src/common/%.o: src/common/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(CF_COMMON) -c $< -o $@
$(O)/src/groq/%.o: src/groq/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(CF_COMMON) -c $< -o $@
$(O)/src/gateway/%.o: src/gateway/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(GATEWAY_INC) $(CF_GATEWAY) -c $< -o $@
$(O)/src/console/%.o: src/console/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Isrc/console $(CF_CONSOLE) -c $< -o $@
$(O)/src/fakegroq/%.o: src/fakegroq/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(CF_FAKE) -c $< -o $@
$(O)/src/ctl/%.o: src/ctl/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(CF_CTL) -c $< -o $@
$(O)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(GATEWAY_INC) -Isrc/console -Itests/unit $(CF_TESTS) -c $< -o $@

$(COMMON_LIB): $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
define room_rule
$(call room_lib,$(1)): $(call objs,$(wildcard src/gateway/$(1)/*.c))
	@rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach r,$(ROOMS),$(eval $(call room_rule,$(r))))
$(GROQ_LIB): $(GROQ_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
$(BIN)/groqgated: $(GATEWAY_OBJ) $(GROQ_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_GATEWAY) -lpthread -lm
$(BIN)/groqtop: $(CONSOLE_OBJ) $(GROQ_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_CONSOLE) -lm
$(BIN)/groqctl: $(CTL_OBJ) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_CTL) -lm
$(BIN)/fakegroq: $(FAKE_OBJ) $(GROQ_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_FAKE) -lm
$(O)/unit-tests: $(call objs,$(UNIT_SRC)) $(GATEWAY_LIBS) $(GROQ_LIB) $(CONSOLE_LIB_OBJ) $(COMMON_LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_TESTS) -lpthread -lm

# fuzz harnesses: replayed over their corpus by make check; make fuzz runs
# them under libFuzzer (clang) for FUZZ_SECONDS each
FUZZ_HARNESSES = meter overview policy conf admin headers http httpd mime
FUZZ_REPLAY = $(addprefix $(O)/fuzz-,$(FUZZ_HARNESSES))
$(O)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(GATEWAY_INC) -Isrc/console -Itests/fuzz $(CF_GATEWAY) -c $< -o $@
$(O)/fuzz-%: $(O)/tests/fuzz/fuzz_%.o $(O)/tests/fuzz/replay.o $(CONSOLE_LIB_OBJ) $(GATEWAY_LIBS) $(GROQ_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_GATEWAY) -lm

# a gateway that answers badly, for groqtop's robustness test
$(O)/badgw: tests/tui/badgw.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $<

FUZZ_SECONDS ?= 60
# FUZZ_ONLY="http headers" runs just those harnesses
fuzz:
	@scripts/deps --fuzz
	@$(MAKE) --no-print-directory CC=clang O=build/fuzz \
		SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" OPT="-O1 -g" \
		$(addprefix build/fuzz/tests/fuzz/fuzz_,$(addsuffix .o,$(FUZZ_HARNESSES))) \
		$(call objs,src/gateway/core/meter.c) $(GROQ_OBJ) >/dev/null
	@for h in $(or $(FUZZ_ONLY),$(FUZZ_HARNESSES)); do \
		$(MAKE) --no-print-directory -s CC=clang O=build/fuzz \
			SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" OPT="-O1 -g" \
			$$(echo $(CONSOLE_LIB_OBJ) $(GATEWAY_LIBS) $(GROQ_LIB) $(COMMON_LIB) | sed 's#$(O)/#build/fuzz/#g') >/dev/null || exit 1; \
		clang -fsanitize=fuzzer,address,undefined -o build/fuzz/fuzzer-$$h build/fuzz/tests/fuzz/fuzz_$$h.o \
			$$(echo $(CONSOLE_LIB_OBJ) $(GATEWAY_LIBS) $(GROQ_LIB) $(COMMON_LIB) | sed 's#$(O)/#build/fuzz/#g') \
			$(LIBS_GATEWAY) -lm || exit 1; \
		mkdir -p build/fuzz/corpus-$$h build/fuzz/artifacts-$$h; \
		echo "fuzz: $$h for $(FUZZ_SECONDS) s"; \
		LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp build/fuzz/fuzzer-$$h -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/artifacts-$$h/ \
			build/fuzz/corpus-$$h tests/fuzz/corpus/$$h 2>&1 | grep -E '^(#[0-9]+ +DONE|Done|==.*ERROR|SUMMARY)' ; \
	done
	@echo "fuzz: new inputs in build/fuzz/corpus-*, crashes (if any) in build/fuzz/artifacts-*: add them to tests/fuzz/corpus/"

-include $(shell find $(O) -name '*.d' 2>/dev/null)

deps:
	@scripts/deps

check: deps
	@$(MAKE) --no-print-directory all $(O)/unit-tests $(FUZZ_REPLAY) $(O)/badgw
	@BIN=$(BIN) UNIT=$(O)/unit-tests O=$(O) tests/run-all

asan:
	@$(MAKE) --no-print-directory check SAN=1 O=build/asan BIN=build/asan/bin

# the long ones: fuzzing (FUZZ_SECONDS per harness), 50 kill -9 cycles,
# a 10-minute soak (SOAK_SECONDS) with groqtop under ASan
reliability: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory all SAN=1 O=build/asan BIN=build/asan/bin
	@$(MAKE) --no-print-directory fuzz
	@RELIABILITY=1 BIN=$(BIN) ASAN_BIN=build/asan/bin tests/run-all reliability/

unit: $(O)/unit-tests
	$(O)/unit-tests

demo: deps
	@$(MAKE) --no-print-directory all
	@CLUSTER=$(CLUSTER) scripts/demo run

demo-up: deps
	@$(MAKE) --no-print-directory all
	@CLUSTER=$(CLUSTER) scripts/demo up

demo-down:
	@scripts/demo down

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/deps --bench
	@bench/run
	@bench/cluster

# the Debian package: a hardened release build (fortified, full RELRO,
# immediate binding), then dpkg-deb (scripts/build-deb); package-check
# also runs lintian and installs, upgrades and purges it (tests/package.sh)
HARDEN_CFLAGS = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fcf-protection
HARDEN_LDFLAGS = -Wl,-z,relro,-z,now
deb: deps
	@$(MAKE) --no-print-directory all O=build/release BIN=build/release/bin \
		CFLAGS="$(HARDEN_CFLAGS)" LDFLAGS="$(HARDEN_LDFLAGS)"
	@scripts/build-deb build/release/bin

package-check: deb
	@BIN=$(BIN) tests/run-all package

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/groqgate/themes \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 themes/*.conf $(DESTDIR)$(PREFIX)/share/groqgate/themes/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 packaging/groqctl.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/groqctl

clean:
	rm -rf build bin

.PHONY: all deps check asan unit demo demo-up demo-down bench fuzz reliability install clean deb package-check
