# esphub — build, test and demo entry points.
# 'make demo' and 'make test' are the two commands a new user runs (as root).

GO        ?= go
GOFLAGS   ?=
BIN       := bin
CMDS      := $(notdir $(wildcard cmd/*))
# Packages the tests need. Installed by 'make deps' when missing (as root).
DEB_TEST  := strongswan-charon strongswan-swanctl libcharon-extra-plugins frr \
             libstrongswan-extra-plugins libstrongswan-standard-plugins \
             tshark tcpdump iperf3 iproute2 iputils-ping nftables ethtool procps openssl
# Packages only 'make generate' needs (the BPF toolchain).
DEB_GEN   := clang llvm libbpf-dev gcc-multilib linux-libc-dev
TEST_TIMEOUT ?= 18m
FUZZTIME  ?= 5s

.PHONY: all build test test-unit lint vet generate deps deps-generate fuzz-smoke demo bench bench-readme bench-go clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS) -o $(BIN)/ ./cmd/...

# Unit tests everywhere; as root also the network-namespace end-to-end and
# interop tests (strongSwan, tshark). With CI=true a missing prerequisite fails.
test: deps
	$(GO) test $(GOFLAGS) -count=1 -timeout $(TEST_TIMEOUT) ./...

# Quick inner loop: no namespaces, no external peers.
test-unit:
	$(GO) test $(GOFLAGS) -short -count=1 ./...

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_bpfel.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) tool staticcheck ./...

vet:
	$(GO) vet ./...

# Regenerates committed generated code (bpf2go). Needs clang; nothing else does.
generate: deps-generate
	$(GO) generate ./...

deps:
	@scripts/deps.sh $(DEB_TEST)

deps-generate:
	@scripts/deps.sh $(DEB_GEN)

# Runs every fuzz target for FUZZTIME each.
fuzz-smoke:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz-smoke.sh

demo: build
	@scripts/demo.sh

bench: build
	$(BIN)/esphub-bench -v -out bench/results

# Copies the summary of the newest full report in bench/results into the
# README's "Latest figures" table (measures nothing).
bench-readme: build
	$(BIN)/esphub-bench -readme README.md -from bench/results

# Go micro-benchmarks of every package (packet path, crypto, codecs), with allocations.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN)
