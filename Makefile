# heartbeatd build and test entry points. `make test` is what CI runs.
GO       ?= go
PREFIX   ?= /usr
DESTDIR  ?=
BIN      := bin/heartbeatd
PKGS     := ./...
# Empty: `make fuzz` gives each target its budget in executions (tests/fuzzlist).
# Set it (e.g. 5m) to fuzz every target for that long instead.
FUZZTIME ?=
# Commands that are the same binary under another name (multi-call).
LINKS    := cl_status hb_takeover hb_standby drbd-peer-outdater

.PHONY: all build test test-quick fuzz bench bench-cluster bench-loss bench-takeover lint install clean demo

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./heartbeatd

# Everything, including the root-only multi-node tests in network namespaces
# (tag "netns"). Packages run one at a time (-p 1): the multi-node tests each
# build their own namespaces and would otherwise compete for the two cores,
# which skews their timing checks.
# The node simulator's seeds per auto_failback mode (internal/node TestSim).
HBD_SIM_SEEDS ?= 2000
export HBD_SIM_SEEDS

test: build lint
	$(GO) test -count=1 -p 1 -timeout 40m -tags netns $(PKGS)

# The quick subset: unit, scenario, simulator and codec tests; no namespaces.
test-quick:
	$(GO) test -count=1 $(PKGS)

# Each fuzz target for a bounded time. `go test -fuzz` takes one target per run.
fuzz:
# The budget is a count of executions per target (see tests/fuzzlist for
# why not a duration); `make fuzz FUZZTIME=5m` overrides it for a longer
# local run.
	@set -e; for spec in $$($(GO) run ./tests/fuzzlist); do \
		execs=$${spec##*:}; rest=$${spec%:*}; \
		pkg=$${rest%%:*}; name=$${rest##*:}; \
		budget=$${execs}x; [ -z "$(FUZZTIME)" ] || budget=$(FUZZTIME); \
		echo "== fuzz $$pkg $$name ($$budget)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget $$pkg; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags netns $(PKGS)

install: build
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)/etc/ha.d/resource.d $(DESTDIR)$(PREFIX)/share/doc/heartbeatd
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/heartbeatd
	for l in $(LINKS); do ln -sf heartbeatd $(DESTDIR)$(PREFIX)/sbin/$$l; done
	for f in resource.d/*; do [ -f "$$f" ] && install -m 0755 "$$f" $(DESTDIR)/etc/ha.d/resource.d/ || true; done
	install -m 0644 ha.cf.example authkeys.example haresources.example $(DESTDIR)$(PREFIX)/share/doc/heartbeatd/

demo: build
	./tests/demo/run.sh

clean:
	rm -rf bin

# Multi-node benchmarks, never part of `make test` (build tag bench).
# bench-cluster: one table from one run, heartbeatd and real Heartbeat 3.0.6
# alternating: failover latency seen by a client, false failovers under
# loss, idle CPU and PSS beside the floor program, the VIP's gap after a
# partition heals, and the issue's goals as PASS/FAIL lines. About an hour
# on a quiet 2-core machine; knobs for a smoke run (HBD_BENCH_REPS,
# HBD_BENCH_LOSS_SECS, ...) are listed in tests/e2e/bench_cluster_test.go.
# bench-loss: heartbeatd alone, 10 minutes of 30 % loss at 10 ms / 50 ms.
BENCH_FILTER = grep --line-buffered -v '^=== \|^    exec.go\|^    --- PASS'

bench-cluster: build
	$(GO) test -count=1 -p 1 -timeout 150m -tags 'netns bench' -run '^TestBenchCluster$$' -v ./tests/e2e 2>&1 | $(BENCH_FILTER)

bench-loss: build
	$(GO) test -count=1 -p 1 -timeout 60m -tags 'netns bench' -run '^TestBenchLoss$$' -v ./tests/e2e 2>&1 | $(BENCH_FILTER)

# bench-takeover: the takeover path alone (dead decision -> first gratuitous
# ARP), through the standby helpers and forked; TAKEOVER_REPS runs of each.
bench-takeover: build
	$(GO) test -count=1 -p 1 -timeout 30m -tags 'netns bench' -run '^TestTakeoverPathLatency$$' -v ./tests/e2e 2>&1 | $(BENCH_FILTER)

# ---- Debian package and manual pages (debian/, man/, tests/deb) ----------
# `make deb` builds build/heartbeatd_VERSION_ARCH.deb from the working tree:
# it copies the tree (without .git, bin, build) to a temporary directory,
# vendors the modules there (the only step that needs the module proxy or
# the module cache), then runs dpkg-buildpackage offline (GOPROXY=off).
# The repository never carries vendor/.
DEB_OUT ?= build

.PHONY: man deb test-deb

# Regenerates man/ha.cf.5 from the directive table and checks every page.
man:
	$(GO) test -count=1 ./internal/config -run TestHACFManPage -update
	@set -e; for f in man/*.[1-8]; do \
		out=$$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$$f" 2>&1 >/dev/null); \
		if [ -n "$$out" ]; then echo "$$f:"; echo "$$out"; exit 1; fi; \
	done; echo "man pages OK"

deb:
	@set -e; tmp=$$(mktemp -d /tmp/heartbeatd-deb.XXXXXX); \
	trap 'rm -rf "$$tmp"' EXIT; \
	mkdir "$$tmp/heartbeatd"; \
	tar -C . --exclude=./.git --exclude=./bin --exclude=./build --exclude=./vendor -cf - . | tar -C "$$tmp/heartbeatd" -xf -; \
	cd "$$tmp/heartbeatd"; \
	GOFLAGS=-mod=mod $(GO) mod vendor; \
	GOPROXY=off dpkg-buildpackage -us -uc -b; \
	cd - >/dev/null; mkdir -p $(DEB_OUT); \
	cp "$$tmp"/*.deb $(DEB_OUT)/; \
	ls -l $(DEB_OUT)/*.deb

# Builds the package, runs lintian, installs it in a Debian 12 chroot and
# purges it again (root; debootstrap'ed chroot cached in /var/cache).
test-deb:
	$(GO) test -count=1 -tags netns -timeout 60m -v ./tests/deb
