# pgkeep: `make demo` runs the main job on a throwaway local server, `make test`
# runs every test. Both install what is missing first (scripts/install-deps.sh).

GO      ?= go
BIN     := bin/pgkeep
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build build-libzstd deps test demo vet bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/pgkeep

# The same program, still one static binary, with zstd objects compressed
# by libzstd (linked in statically) instead of the pure-Go encoder: 2-3x
# less CPU per byte. Reading is pure Go in both. Needs gcc and libzstd-dev.
build-libzstd: deps
	CGO_ENABLED=1 $(GO) build -trimpath -tags 'libzstd netgo osusergo' \
		-ldflags '$(LDFLAGS) -linkmode external -extldflags -static' -o bin/pgkeep-libzstd ./cmd/pgkeep

deps:
	@scripts/install-deps.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) vet -tags libzstd ./repo/...

test: deps vet
	$(GO) test -count=1 -timeout 25m ./...
	CGO_ENABLED=1 $(GO) test -count=1 -tags libzstd ./repo/...

demo: deps build
	@scripts/demo.sh $(BIN)

bench: deps build
	@scripts/install-deps.sh --bench
	test/bench/archive_push.sh

clean:
	rm -rf bin
