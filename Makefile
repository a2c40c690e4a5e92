# es - event streams for the shell. A manifest: what is built, from what.
.DELETE_ON_ERROR:
.SUFFIXES:

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
COMPDIR  = $(PREFIX)/share/bash-completion/completions

BINS  = es-topic es-produce es-consume es-replay es-compact es-lag
MAN1  = $(BINS:%=man/%.1)
MANS  = $(MAN1) man/es-format.5 man/es.7

CC      = gcc
PKGS    = yaml-0.1 zlib
CFLAGS ?= -O2 -g
ESFLAGS = -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -Ilib \
          $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lyaml -lz) -pthread
SANFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all

LIB_SRCS  = $(sort $(wildcard lib/*.c))
LIB_HDRS  = $(wildcard lib/*.h)
CLI_SRCS  = cmd/cli.c
UNITS     = $(patsubst tests/unit/%.c,%,$(sort $(wildcard tests/unit/test_*.c)))
FUZZERS   = $(patsubst tests/fuzz/%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))

all: $(BINS:%=bin/%)

build/libes.a: $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p build/obj
	cd build/obj && for f in $(LIB_SRCS); do \
	  $(CC) $(ESFLAGS) -I../../lib $(CFLAGS) -c ../../$$f || exit 1; done
	rm -f $@ && ar rcs $@ build/obj/*.o

build/libes-san.a: $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p build/san
	cd build/san && for f in $(LIB_SRCS); do \
	  $(CC) $(ESFLAGS) -I../../lib $(SANFLAGS) -c ../../$$f || exit 1; done
	rm -f $@ && ar rcs $@ build/san/*.o

bin/%: cmd/%.c $(CLI_SRCS) cmd/cli.h build/libes.a
	@mkdir -p bin
	$(CC) $(ESFLAGS) $(CFLAGS) -o $@ $< $(CLI_SRCS) build/libes.a $(LDLIBS)

CONSUME_SRCS = cmd/es-consume.c cmd/consume-exec.c cmd/consume-format.c
bin/es-consume: $(CONSUME_SRCS) cmd/consume.h $(CLI_SRCS) cmd/cli.h build/libes.a
	@mkdir -p bin
	$(CC) $(ESFLAGS) $(CFLAGS) -o $@ $(CONSUME_SRCS) $(CLI_SRCS) build/libes.a $(LDLIBS)

# Unit tests, plain and under ASan+UBSan.
build/unit/%: tests/unit/%.c tests/unit/check.h build/libes.a
	@mkdir -p build/unit
	$(CC) $(ESFLAGS) -Itests/unit $(CFLAGS) -o $@ $< build/libes.a $(LDLIBS)
build/unit-san/%: tests/unit/%.c tests/unit/check.h build/libes-san.a
	@mkdir -p build/unit-san
	$(CC) $(ESFLAGS) -Itests/unit $(SANFLAGS) -o $@ $< build/libes-san.a $(LDLIBS)

# Fuzz targets: a replay driver (gcc, sanitizers) runs the corpora in
# `make check`; `make fuzz` runs libFuzzer (clang) for FUZZ_SECONDS each.
build/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c build/libes-san.a
	@mkdir -p build/fuzz-replay
	$(CC) $(ESFLAGS) $(SANFLAGS) -o $@ $< tests/fuzz/replay.c build/libes-san.a $(LDLIBS)
FUZZ_SECONDS ?= 60
fuzz: deps
	@mkdir -p build/fuzz
	for f in $(FUZZERS); do \
	  clang -std=c11 -D_GNU_SOURCE -Ilib -g -O1 -fsanitize=fuzzer,address,undefined \
	    -o build/fuzz/$$f tests/fuzz/$$f.c $(LIB_SRCS) $(LDLIBS) || exit 1; \
	  mkdir -p tests/fuzz/corpus/$$f build/fuzz/new-$$f; \
	  build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    build/fuzz/new-$$f tests/fuzz/corpus/$$f || exit 1; \
	done

deps:
	@sh tests/deps.sh

check: deps
	@$(MAKE) -s all $(UNITS:%=build/unit/%) $(UNITS:%=build/unit-san/%) \
	  $(FUZZERS:%=build/fuzz-replay/%)
	@UNITS="$(UNITS)" FUZZERS="$(FUZZERS)" MANS="$(MANS)" sh tests/run-check.sh

bench: all
	@sh tests/bench/run.sh

demo: deps
	@$(MAKE) -s all
	@sh tests/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS:%=bin/%) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/es-format.5 $(DESTDIR)$(MANDIR)/man5
	install -m 644 man/es.7 $(DESTDIR)$(MANDIR)/man7
	install -d $(DESTDIR)$(COMPDIR) && install -m 644 completion/es.bash $(DESTDIR)$(COMPDIR)/es && for b in $(BINS); do ln -sf es $(DESTDIR)$(COMPDIR)/$$b; done

clean:
	rm -rf bin build

.PHONY: all check bench demo deps fuzz install clean
.PRECIOUS: build/unit/% build/unit-san/% build/fuzz-replay/%
