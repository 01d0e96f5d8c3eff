# Switchyard — build, test, demo.
#
#   make            build build/switchyard
#   make test       install what is missing, build, unit + integration + short fuzz
#   make demo       install what is missing, build, start the demo fleet and proxy
#   make demo-stop  stop the demo
#   make unit       cmocka unit tests only
#   make integration  integration tests only (real servers)
#   make asan       sanitizer build in build-asan/
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each (default 30)

CC      ?= cc
PKGS    := libevent libevent_openssl libevent_pthreads openssl libpcre2-8 inih
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
OPT     ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(CSTD) $(WARN) $(OPT) -I. $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread $(EXTRA_LDLIBS)

BUILD   ?= build
LIB_SRC := $(wildcard util/*.c config/*.c proxy/pg/*.c proxy/mysql/*.c pool/*.c router/*.c health/*.c) \
           $(filter-out proxy/main.c,$(wildcard proxy/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 30

.PHONY: all deps test unit integration fuzz asan demo demo-stop clean format-check
all: $(BUILD)/switchyard

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libswitchyard.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/switchyard: $(BUILD)/proxy/main.o $(BUILD)/libswitchyard.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libswitchyard.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libswitchyard.a $(LDLIBS) $(shell pkg-config --libs cmocka)

-include $(LIB_OBJ:.o=.d) $(BUILD)/proxy/main.d

deps:
	@scripts/install-deps.sh

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

integration: $(BUILD)/switchyard
	@tests/integration/run.sh $(BUILD)/switchyard

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-10}

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
		OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		EXTRA_LDLIBS="-fsanitize=address,undefined" build-asan/switchyard

fuzz:
	@scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_SRC)

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh start

demo-stop:
	@scripts/demo.sh stop

clean:
	rm -rf build build-asan build-fuzz
