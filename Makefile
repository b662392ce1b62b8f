# Targets are the project's contract (README, ARCHITECTURE.md): build writes bin/sandbox,
# test runs every test, bench the benchmarks.
GO      ?= go
BIN     := bin/sandbox
# Integration tests run real programs under the sandbox; 2 cores, so keep
# package-level parallelism low and bound every run in time.
TESTFLAGS ?= -count=1 -timeout 15m

.PHONY: deps build run test lint unit integration test-docker fuzz bench clean

# The Debian packages the build and the tests need, installed if missing
# (as root; otherwise it says what to install).
deps:
	@bash .ci/deps

# The version `sandbox version` prints: the module's, and the commit the
# tree is at (stamped here: go's own VCS stamping may be off, as with
# GOFLAGS=-buildvcs=false).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
LDFLAGS := -X main.buildVersion=$(VERSION)

build: deps
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sandbox

# A short demo under the embedded default policy (loopback and unix sockets
# only), in a network namespace of its own holding nothing but lo, so that
# the denied destination could not be reached even without the sandbox.
run: build
	unshare --map-root-user --net sh -c 'ip link set lo up && exec $(BIN) run --log - -- sh examples/demo.sh'

test: deps lint unit integration fuzz test-docker

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt: needs formatting:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

unit:
	$(GO) test $(TESTFLAGS) ./policy/... ./sentry/... ./spawn/... ./seccomp/... ./netstack/... ./cmd/...

# Everything in test/ but the Docker tests, which need a daemon: test-docker.
integration:
	$(GO) test $(TESTFLAGS) -p 1 $$($(GO) list ./test/... | grep -v '/test/docker')

# The sandbox in containers, against containers (test/docker). .ci/docker
# makes sure a Docker daemon answers first: on a fresh machine it installs
# Debian's docker.io and starts dockerd.
test-docker: deps
	@bash .ci/docker
	$(GO) test $(TESTFLAGS) ./test/docker/...

# Each fuzz target for a bounded number of inputs; a crasher found lands in
# testdata/ and then runs as a regression test in `unit`. A count, not a
# duration: with a duration, Go's fuzz coordinator can fail a target that
# found nothing ("context deadline exceeded") when the deadline races a
# worker still busy on a loaded machine (seen in CI). 400000 inputs take
# 7-20 s per target on 2 cores.
FUZZEXECS ?= 400000
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZEXECS)x ./policy
	$(GO) test -run '^$$' -fuzz '^FuzzDecide$$' -fuzztime $(FUZZEXECS)x ./policy
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSockaddr$$' -fuzztime $(FUZZEXECS)x ./sentry
	$(GO) test -run '^$$' -fuzz '^FuzzSendDest$$' -fuzztime $(FUZZEXECS)x ./sentry

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./test/...
	$(GO) test -run '^$$' -bench . -count 1 ./policy/...

clean:
	rm -rf bin
