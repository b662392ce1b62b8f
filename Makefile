# Targets are the project's contract (README, ARCHITECTURE.md): build writes bin/sandbox,
# test runs every test, bench the benchmarks.
GO      ?= go
BIN     := bin/sandbox
# Integration tests run real programs under the sandbox; 2 cores, so keep
# package-level parallelism low and bound every run in time.
TESTFLAGS ?= -count=1 -timeout 15m

.PHONY: deps build static install uninstall run test lint unit integration test-docker fuzz bench clean

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

# bin/sandbox as a file, for install: rebuilt only when it is missing or a
# Go source, the embedded default policy or the module files are newer, and
# without deps (no apt-get), so `make build && sudo make install` builds
# once, as the user, and installing needs no network.
GOSRC := $(shell find . \( -path ./.git -o -path ./bin -o -path ./test -o -path ./examples \) -prune -o \( -name '*.go' ! -name '*_test.go' -o -name '*.yaml' \) -print) go.mod go.sum
$(BIN): $(GOSRC)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sandbox

# A statically linked bin/sandbox-static, with libseccomp linked in
# (Debian's libseccomp-dev ships libseccomp.a, libc6-dev glibc's static
# libraries): one file that runs on any Linux of the same architecture,
# in an empty container image too. libseccomp is C, so it stays a cgo
# build, linked by the system's linker with -static. netgo and osusergo
# give it Go's own resolver and user lookup: without them net and os/user
# call glibc's getaddrinfo and getpwnam_r, which in a static binary still
# dlopen the NSS modules of the glibc it was linked with at run time, and
# the linker warns so ("Using 'getaddrinfo' in statically linked
# applications requires at runtime the shared libraries…"). With the tags
# no such call is linked in, so the warning does not come and the binary
# needs nothing of the host's glibc.
STATIC_BIN := $(BIN)-static
static: deps
	CGO_ENABLED=1 $(GO) build -tags netgo,osusergo -ldflags '$(LDFLAGS) -linkmode external -extldflags "-static"' -o $(STATIC_BIN) ./cmd/sandbox

# Installs bin/sandbox, its manual page and its bash and zsh completions
# under $(DESTDIR)$(PREFIX), as packagers expect (make install
# DESTDIR=/tmp/pkg PREFIX=/usr); uninstall removes the same four files.
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
INSTALL     ?= install

install: $(BIN)
	$(INSTALL) -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/sandbox
	$(INSTALL) -D -m 0644 docs/sandbox.1 $(DESTDIR)$(MANDIR)/man1/sandbox.1
	$(INSTALL) -D -m 0644 completions/sandbox.bash $(DESTDIR)$(BASHCOMPDIR)/sandbox
	$(INSTALL) -D -m 0644 completions/_sandbox $(DESTDIR)$(ZSHCOMPDIR)/_sandbox

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sandbox
	rm -f $(DESTDIR)$(MANDIR)/man1/sandbox.1
	rm -f $(DESTDIR)$(BASHCOMPDIR)/sandbox
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_sandbox

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
	$(GO) test $(TESTFLAGS) ./policy/... ./sentry/... ./spawn/... ./seccomp/... ./netstack/... ./learn/... ./oci/... ./cmd/...

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
	$(GO) test -run '^$$' -fuzz '^FuzzChecksumsValid$$' -fuzztime $(FUZZEXECS)x ./netstack

# gVisor's runsc, the benchmarks' peer beside slirp4netns and pasta: built
# from the module proxy at the gVisor version go.mod pins, without cgo as
# gVisor builds it. Only make bench needs it.
RUNSC := bin/runsc
$(RUNSC): go.mod
	GOBIN=$(CURDIR)/bin CGO_ENABLED=0 $(GO) install gvisor.dev/gvisor/runsc@$$($(GO) list -m -f '{{.Version}}' gvisor.dev/gvisor)
	touch $@

bench: deps $(RUNSC)
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./test/...
	$(GO) test -run '^$$' -bench . -count 1 ./policy/...

clean:
	rm -rf bin
