# cache-warmer: the README's two commands (`make demo`, `make test`) and their parts.
SHELL := /bin/bash
STACK := deploy/local/stack.sh
SWIFT_BUILD_FLAGS ?=
FUZZ_SECONDS ?= 60
FUZZ_SCRATCH := .build-fuzz
CHAOS_FAULTS ?= 20

.PHONY: demo test stack-up stack-down build unit-and-integration fuzz fuzz-build bench bench-decode fixtures \
	deploy-check deploy-image-check deploy-image-check-if-changed release-static chaos chaos-short bench-history bench-worker \
	bench-build bench-stream bench-redis bench-reads bench-resync

## Sets everything up (packages, local Postgres primary + replica + Redis) and runs the demo:
## the worker streaming while a writer changes orders and products, with a live view.
demo: stack-up build
	@eval "$$($(STACK) env)" && .build/debug/cache-warmer check
	@deploy/local/demo.sh

## Runs every test against the real local stack, then a CI-sized fuzz run of the decoder.
test: stack-up deploy-check unit-and-integration chaos-short fuzz

stack-up:
	@STACK_PROXY=1 STACK_REDIS_CLUSTER=3 $(STACK) up

stack-down:
	@$(STACK) down

build:
	swift build $(SWIFT_BUILD_FLAGS)

# Suites named *FaultTests restart or stop stack components: they run alone, after the rest.
# The bulk suites write hundreds of thousands of rows, which every other test's walsender would
# have to decode too, and the timing suites measure waits a busy machine stretches: they run one
# at a time, between the two.
SERIAL_SUITES := ResyncTests|VerifyTests|WarmQueryTests|HistoryReplayTests|InlineWaitTests|RetryingTests|TakeoverTests|ReaderFreshnessTests
unit-and-integration: build
	@# Slots left by an interrupted earlier run would pin WAL and use up max_replication_slots.
	@$(STACK) psql writer -qAt -c "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name ~ '^(t_|cw_bench_)' AND NOT active" >/dev/null
	eval "$$($(STACK) env)" && swift test $(SWIFT_BUILD_FLAGS) --skip FaultTests --skip '$(SERIAL_SUITES)'
	eval "$$($(STACK) env)" && swift test $(SWIFT_BUILD_FLAGS) --filter '$(SERIAL_SUITES)' --no-parallel
	eval "$$($(STACK) env)" && swift test $(SWIFT_BUILD_FLAGS) --filter FaultTests --no-parallel

## Chaos suite on a private stack of its own (ports 27432-27434, 27379): faults under a write
## and read load, then an independent checker compares the cache with the database (CHAOS_FAULTS).
chaos: build
	Scripts/chaos/chaos.sh --faults $(CHAOS_FAULTS)

# The CI-sized chaos run: 6 faults, about a minute.
chaos-short: build
	Scripts/chaos/chaos.sh --faults 6

## libFuzzer on the pgoutput decoder, seeded with the captured fixtures (FUZZ_SECONDS, default 60).
fuzz: fuzz-build
	rm -rf $(FUZZ_SCRATCH)/corpus && Fuzz/seed-corpus.sh $(FUZZ_SCRATCH)/corpus
	mkdir -p $(FUZZ_SCRATCH)/artifacts
	$(FUZZ_SCRATCH)/release/PGOutputFuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_SCRATCH)/artifacts/ $(FUZZ_SCRATCH)/corpus

fuzz-build:
	CW_FUZZ=1 swift build -c release --scratch-path $(FUZZ_SCRATCH) --product PGOutputFuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld

## Offline checks of deploy/ (quick): cfn-lint on the CloudFormation template, hadolint on the
## Dockerfile, and the template's variables, secrets, alarms and health check against the binary.
deploy-check:
	deploy/check.sh

RELEASE_SCRATCH := .build-release

## The binary the container image carries: release, Swift runtime linked in.
release-static:
	swift build -c release --static-swift-stdlib --scratch-path $(RELEASE_SCRATCH) --product cache-warmer

## Proves the image's runtime packages in a debootstrapped Debian 12 root against the local stack
## (as root; slow: a release build). CI runs it only when the last commit changed deploy/.
deploy-image-check: stack-up release-static
	eval "$$($(STACK) env)" && deploy/container/image-check.sh $(RELEASE_SCRATCH)/release/cache-warmer

deploy-image-check-if-changed:
	@if git rev-parse -q --verify HEAD~1 >/dev/null 2>&1 && git diff --quiet HEAD~1 HEAD -- deploy/; then \
		echo "deploy-image-check: deploy/ unchanged by the last commit, skipped"; \
	else $(MAKE) deploy-image-check; fi

## Benchmarks (release build): each prints a table and writes JSON under bench-results/.
## `make bench` runs every one (the stack must be up for all but decode).
bench: bench-decode bench-stream bench-redis bench-reads bench-worker bench-resync bench-history

bench-build:
	swift build -c release --scratch-path .build-release --product cw-bench
	swift build -c release --scratch-path .build-release --product cache-warmer

bench-decode: bench-build
	.build-release/release/cw-bench decode

bench-stream bench-redis bench-reads: bench-build
	eval "$$($(STACK) env)" && .build-release/release/cw-bench $(@:bench-%=%)

## Resync and verify --all of 1M rows from the replica vs COPY of to_jsonb on it.
bench-resync: bench-build
	eval "$$($(STACK) env)" && .build-release/release/cw-bench resync --binary .build-release/release/cache-warmer

## Replay from the history window vs pg_recvlogical over the same range (needs the stack).
bench-history: bench-build
	eval "$$($(STACK) env)" && .build-release/release/cw-bench history

## Worker replay of the realistic workloads vs pg_recvlogical, CPU and Redis time per change,
## latency and RSS (needs the stack; a few minutes; `BENCH_ARGS=--quick` for a short run).
bench-worker: bench-build
	eval "$$($(STACK) env)" && .build-release/release/cw-bench worker $(BENCH_ARGS)

## Regenerates the pgoutput fixtures from a throwaway PostgreSQL 15 cluster.
fixtures:
	Scripts/capture-pgoutput-fixtures.sh
