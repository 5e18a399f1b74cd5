# pxed build. `make` builds build/pxed and build/pxectl; `make check` builds
# and runs the unit tests. Integration and lab tests: scripts/test.sh.
# `make install` installs the daemon, pxectl, the manual pages, the
# configuration, the systemd unit and the bash completion (README: Install).
#
# Sources are found by folder: each folder under src/ is one module, and
# every .c in it (except src/main.c and src/pxectl/) goes into libpxed.a.

CC      ?= cc
BUILD   ?= build
CFLAGS  ?= -O2 -g
# One version, from src/main.c.
VERSION := $(shell sed -n 's/^\#define PXED_VERSION "\(.*\)"/\1/p' src/main.c)
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -Isrc -MMD -MP
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

PKGS      := sqlite3 libpq libmicrohttpd jansson inih gnutls
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CURL_LIBS  := $(shell pkg-config --libs libcurl 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
CFLAGS  += $(PKG_CFLAGS)

MODULES  := common conf ev store decide dhcp tftp wake http
LIB_SRC  := $(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# The web console's files (ui/), built into pxed as C arrays.
UI_SRC   := $(sort $(shell find ui -maxdepth 1 -type f 2>/dev/null))
UI_C     := $(BUILD)/gen/ui_files.c
LIB_OBJ  += $(BUILD)/obj/gen/ui_files.o
CTL_SRC  := $(wildcard src/pxectl/*.c)
CTL_OBJ  := $(CTL_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

all: $(BUILD)/pxed $(BUILD)/pxectl $(BENCH_BIN)

# A store backend defines its calls under its own names (sqlite_*, pg_*)
# and is reached only through store.c's dispatch: a store_* function left
# in a backend would link, take the backend's struct where callers pass
# the front's, and corrupt memory.
STORE_BACKEND_OBJ := $(BUILD)/obj/src/store/store_sqlite.o $(BUILD)/obj/src/store/store_pg.o

$(BUILD)/libpxed.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	@if nm -g --defined-only $(STORE_BACKEND_OBJ) | grep -w 'T store_[a-z_0-9]*'; then \
		echo "store backends must not define store_* (rename in store_sqlite_names.h, dispatch in store.c)" >&2; \
		exit 1; fi
	rm -f $@ && ar rcs $@ $^

$(BUILD)/pxed: $(BUILD)/obj/src/main.o $(BUILD)/libpxed.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcrypt

$(BUILD)/pxectl: $(CTL_OBJ) $(BUILD)/libpxed.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CURL_LIBS) -lcrypt

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(UI_C): $(UI_SRC) scripts/ui_embed.sh
	@mkdir -p $(@D)
	sh scripts/ui_embed.sh $@ $(UI_SRC)

$(BUILD)/obj/gen/ui_files.o: $(UI_C)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libpxed.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DFIXTURES='"$(FIXTURES)"' -DSRCDIR='"$(CURDIR)"' $(LDFLAGS) -o $@ $< $(BUILD)/libpxed.a $(PKG_LIBS) $(CMOCKA_LIBS) -lcrypt

$(BUILD)/bench/%: bench/%.c $(BUILD)/libpxed.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libpxed.a $(PKG_LIBS) -lcrypt -lm

# Fixtures: real firmware captures, kept in tests/fixtures.
FIXTURES ?= $(CURDIR)/tests/fixtures

check: $(TEST_BIN)
	@set -e; for t in $(TEST_BIN); do echo "== $$t"; $$t; done

# libFuzzer harnesses (clang): make fuzz, then build/fuzz/fuzz_X corpus/
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(UI_C)
	@mkdir -p $(@D)
	clang -std=gnu11 -g -O1 -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_SRC) $(UI_C) $(PKG_LIBS) -lcrypt

# ---- install ---------------------------------------------------------------
# Where things go: PREFIX for programs and data; SYSCONFDIR and
# LOCALSTATEDIR are written into the installed configuration and unit
# (Debian: PREFIX=/usr SYSCONFDIR=/etc LOCALSTATEDIR=/var).  DESTDIR is
# prepended to every path and never written into a file.
PREFIX        ?= /usr/local
SYSCONFDIR    ?= $(PREFIX)/etc
LOCALSTATEDIR ?= $(PREFIX)/var
BINDIR        ?= $(PREFIX)/bin
SBINDIR       ?= $(PREFIX)/sbin
DATADIR       ?= $(PREFIX)/share
MANDIR        ?= $(DATADIR)/man
DOCDIR        ?= $(DATADIR)/doc/pxed
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR   ?= $(DATADIR)/bash-completion/completions
INSTALL       ?= install

MAN_PAGES := $(BUILD)/man/pxed.8 $(BUILD)/man/pxectl.1 $(BUILD)/man/pxed.conf.5
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@LOCALSTATEDIR@|$(LOCALSTATEDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

man: $(MAN_PAGES)
$(BUILD)/man/%: docs/%.md scripts/md2man.py
	@mkdir -p $(@D)
	python3 scripts/md2man.py --version $(VERSION) $< >$@.tmp && mv $@.tmp $@
$(BUILD)/man/pxed.conf.5: docs/pxed.conf.5.md docs/pxed.conf.example scripts/md2man.py
	@mkdir -p $(@D)
	python3 scripts/md2man.py --version $(VERSION) --include docs/pxed.conf.example $< >$@.tmp && mv $@.tmp $@

# Made at every install: the paths come from the command line.
$(BUILD)/dist/%: dist/%.in FORCE
	@mkdir -p $(@D)
	$(SUBST) $< >$@.tmp && mv $@.tmp $@

install: $(BUILD)/pxed $(BUILD)/pxectl $(MAN_PAGES) $(BUILD)/dist/pxed.conf $(BUILD)/dist/pxed.service
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(SYSCONFDIR)/pxed $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0755 $(BUILD)/pxed $(DESTDIR)$(SBINDIR)/pxed
	$(INSTALL) -m 0755 $(BUILD)/pxectl $(DESTDIR)$(BINDIR)/pxectl
	$(INSTALL) -m 0644 $(BUILD)/man/pxed.8 $(DESTDIR)$(MANDIR)/man8/pxed.8
	$(INSTALL) -m 0644 $(BUILD)/man/pxed.conf.5 $(DESTDIR)$(MANDIR)/man5/pxed.conf.5
	$(INSTALL) -m 0644 $(BUILD)/man/pxectl.1 $(DESTDIR)$(MANDIR)/man1/pxectl.1
	$(INSTALL) -m 0644 docs/pxed.conf.example $(DESTDIR)$(DOCDIR)/pxed.conf.example
	$(INSTALL) -m 0644 $(BUILD)/dist/pxed.conf $(DESTDIR)$(SYSCONFDIR)/pxed/pxed.conf
	$(INSTALL) -m 0644 $(BUILD)/dist/pxed.service $(DESTDIR)$(SYSTEMDUNITDIR)/pxed.service
	$(INSTALL) -m 0644 dist/pxectl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/pxectl

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/pxed $(DESTDIR)$(BINDIR)/pxectl \
		$(DESTDIR)$(MANDIR)/man8/pxed.8 $(DESTDIR)$(MANDIR)/man5/pxed.conf.5 \
		$(DESTDIR)$(MANDIR)/man1/pxectl.1 $(DESTDIR)$(DOCDIR)/pxed.conf.example \
		$(DESTDIR)$(SYSTEMDUNITDIR)/pxed.service $(DESTDIR)$(BASHCOMPDIR)/pxectl

clean:
	rm -rf $(BUILD)

FORCE:
.PHONY: all check clean fuzz install uninstall man FORCE
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
