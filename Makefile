# Switchyard — build, test, demo.
#
#   make            build build/switchyard
#   make test       install what is missing, build, unit + integration + short fuzz
#   make demo       install what is missing, build, start the demo fleet and proxy
#   make demo-stop  stop the demo
#   make unit       cmocka unit tests only
#   make integration  integration tests only (real servers)
#   make asan       sanitizer build in build-asan/
#   make asan-integration  ASAN_TESTS (a subset of the integration tests, see
#                   docs/reliability.md) against build-asan/switchyard; any
#                   ASan/UBSan/LeakSanitizer report fails it
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
ASAN_TESTS ?= test_pg_basic|test_pg_txn_idle_park|test_pg_auth|test_pg_malformed|test_pg_server_kill|test_pg_shutdown|test_pg_tls|test_pg_txn_session_state|test_fault_client_vanish|test_fault_garbage|test_fault_server|test_my_basic|test_my_prepared|test_fault_my_garbage|test_fault_my_client_vanish|test_admin_my|test_my_sha2_full_auth|test_my_large_packets|test_pg_txn_pins|test_my_pins|test_my_commands|test_pg_pipeline|test_my_pipeline|test_pipeline_chaos
ASAN_REPORTS := $(CURDIR)/build-asan/reports

.PHONY: all deps test unit integration fuzz asan asan-integration demo demo-stop clean format-check
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
	@$(MAKE) --no-print-directory asan-integration
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-10}

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
		OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		EXTRA_LDLIBS="-fsanitize=address,undefined" build-asan/switchyard

asan-integration: asan
	@rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	@ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:log_path=$(ASAN_REPORTS)/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(ASAN_REPORTS)/ubsan \
	TESTS='^($(ASAN_TESTS))$$' tests/integration/run.sh build-asan/switchyard; rc=$$?; \
	if [ -n "$$(ls -A $(ASAN_REPORTS))" ]; then cat $(ASAN_REPORTS)/*; \
		echo "asan-integration: sanitizer reports (above, and in $(ASAN_REPORTS))"; exit 1; fi; exit $$rc

fuzz:
	@scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_SRC)

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh start

demo-stop:
	@scripts/demo.sh stop

clean:
	rm -rf build build-asan build-fuzz
