# vmvault build.
#
#   make            build the programs into build/
#   make run        install what is missing, build, start the vault
#   make test       install what is missing, build (plain and ASan+UBSan), run every test
#   make bench      benchmark against restic, Borg and casync (bench/run)
#   make fuzz       build libFuzzer targets into build/fuzz/ (clang)
#   V=1             show the compiler command lines
#
# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer into build/san/.
# RELEASE=1 builds with -O3 -march=native into build/release/.

CC      ?= cc
# What each program links, by pkg-config name: every program needs the library's
# core (OpenSSL, zstd, jansson); the HTTP client (lib/http_client.c, libcurl) is the
# CLI's, the agent's and the server's (replication to a paired server); each
# program adds what its own adapters use. Linked with
# --no-as-needed, so ldd of a program shows exactly these (tests/run.sh checks it
# with scripts/check-links).
PKGS_LIB   := libcrypto libzstd jansson
PKGS_HTTPC := libcurl
PKGS_CLI   := $(PKGS_LIB) $(PKGS_HTTPC)
PKGS_SRV   := $(PKGS_LIB) $(PKGS_HTTPC) sqlite3 libmicrohttpd
PKGS_AGENT := $(PKGS_LIB) $(PKGS_HTTPC) libvirt libvirt-qemu libnbd libxml-2.0
PKGS_TEST  := $(PKGS_LIB) $(PKGS_HTTPC)
PKGS       := $(sort $(PKGS_SRV) $(PKGS_AGENT))
libs = $(shell pkg-config --libs $(1) 2>/dev/null) -lpthread
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla \
           -Wundef -Wnull-dereference -Wimplicit-fallthrough -Werror
CSTD    := -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64

ifeq ($(SAN),1)
  BUILD ?= build/san
  OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
  LDSAN := -fsanitize=address,undefined
else ifeq ($(RELEASE),1)
  BUILD ?= build/release
  OPT   := -O3 -march=native -g -DNDEBUG
else
  BUILD ?= build
  OPT   := -O2 -g
endif

CFLAGS  := $(CSTD) $(OPT) $(WARN) -Ilib $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS_TEST  := $(call libs,$(PKGS_TEST))
LIBS_CLI   := $(call libs,$(PKGS_CLI))
LIBS_SRV   := $(call libs,$(PKGS_SRV))
LIBS_AGENT := $(call libs,$(PKGS_AGENT))
LDFLAGS := $(LDSAN) -Wl,--no-as-needed

LIB_SRC   := $(wildcard lib/*.c lib/format/*.c lib/policy/*.c lib/store/*.c lib/engine/*.c)
CLI_SRC   := $(wildcard cli/*.c)
SRV_SRC   := $(wildcard server/*.c server/*/*.c)
AGENT_SRC := $(wildcard agent/*.c)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/%.o)
SRV_OBJ   := $(SRV_SRC:%.c=$(BUILD)/%.o)
SRV_LIB_SRC := $(filter-out server/vmvaultd.c,$(SRV_SRC))
SRVA      := $(BUILD)/libvmvaultd.a
LIBA      := $(BUILD)/libvmvault.a
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
REPLAY_BIN:= $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/replay_%)

.PHONY: all deps run test fuzz bench clean
.SECONDARY:
all: $(BUILD)/vmvault $(BUILD)/vmvaultd $(BUILD)/vmvault-agent $(BUILD)/tests/test_agent_adapters $(UNIT_BIN) $(REPLAY_BIN)

deps:
	@scripts/install-deps.sh --check 2>/dev/null || scripts/install-deps.sh

# V=1 shows the full commands.
ifeq ($(V),1)
  Q :=
  say = @true
else
  Q := @
  say = @printf '  %-5s %s\n'
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(say) CC $@
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	$(say) AR $@
	$(Q)ar rcs $@ $^

$(BUILD)/vmvault: $(CLI_OBJ) $(LIBA)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CLI)

# The web dashboard (server/web/*), embedded in vmvaultd as C by scripts/embed-web;
# regenerated when a file changes, or one is added or removed (the folder's mtime).
WEB_FILES := $(sort $(wildcard server/web/*))
$(BUILD)/server/web_assets.c: $(WEB_FILES) server/web scripts/embed-web
	@mkdir -p $(dir $@)
	$(say) EMBED $@
	$(Q)scripts/embed-web $@ $(WEB_FILES)
$(BUILD)/server/web_assets.o: $(BUILD)/server/web_assets.c
	$(say) CC $@
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The server's modules as a library: vmvaultd and the API fuzz target link it.
$(SRVA): $(SRV_LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/server/web_assets.o
	@rm -f $@
	$(say) AR $@
	$(Q)ar rcs $@ $^

$(BUILD)/vmvaultd: $(BUILD)/server/vmvaultd.o $(SRVA) $(LIBA)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_SRV)

$(BUILD)/server/%.o: CFLAGS += -Iserver
$(BUILD)/agent/%.o: CFLAGS += -Iagent
$(BUILD)/tests/agent/%.o: CFLAGS += -Iagent

$(BUILD)/vmvault-agent: $(AGENT_SRC:%.c=$(BUILD)/%.o) $(LIBA)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_AGENT)

# The agent's NBD and XML adapters against real qemu-img / qemu-nbd, and what it takes
# from the vault (trust.c, state.c, net.c) on a real file system (run by tests/run.sh).
$(BUILD)/tests/test_agent_adapters: $(BUILD)/tests/agent/nbd_xml_check.o \
		$(BUILD)/tests/agent/trust_check.o $(BUILD)/agent/nbd.o $(BUILD)/agent/xml.o \
		$(BUILD)/agent/trust.o $(BUILD)/agent/state.o $(BUILD)/agent/net.o $(LIBA)
	@mkdir -p $(dir $@)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_AGENT)
$(BUILD)/tests/fuzz/fuzz_api.o: CFLAGS += -Iserver

$(BUILD)/tests/replay_fuzz_api: $(BUILD)/tests/fuzz/fuzz_api.o $(BUILD)/tests/fuzz/replay.o $(SRVA) $(LIBA)
	@mkdir -p $(dir $@)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_SRV)

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(BUILD)/tests/unit/harness.o $(LIBA)
	@mkdir -p $(dir $@)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_TEST)

$(BUILD)/tests/replay_%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(LIBA)
	@mkdir -p $(dir $@)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_TEST)

run: deps
	$(MAKE) all
	scripts/run-local.sh

test: deps
	$(MAKE) all
	$(MAKE) SAN=1 all
	tests/run.sh

bench: 
	scripts/install-deps.sh bench
	$(MAKE) RELEASE=1 build/release/vmvault
	bench/run

# libFuzzer builds, for fuzzing on demand: build/fuzz/fuzz_X. Run one as
#   mkdir -p build/fuzz/new-X && build/fuzz/fuzz_X build/fuzz/new-X tests/fuzz/corpus/X
# (libFuzzer writes what it finds into the first folder; copy what is worth keeping
# into the corpus, which make test replays). The API target links the server's
# modules and the embedded dashboard; the others, the library alone.
FUZZ_CFLAGS := $(CSTD) -g -O1 -Ilib -Iserver -fsanitize=fuzzer,address,undefined \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
fuzz: build/server/web_assets.c
	@mkdir -p build/fuzz
	for f in $(filter-out %/fuzz_api.c %/replay.c,$(FUZZ_SRC)); do n=$$(basename $$f .c); \
	  clang $(FUZZ_CFLAGS) $$f $(LIB_SRC) -o build/fuzz/$$n $(LIBS_TEST) || exit 1; done
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_api.c $(LIB_SRC) \
	  $(SRV_LIB_SRC) build/server/web_assets.c \
	  -o build/fuzz/fuzz_api $(LIBS_SRV)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
