# The README's commands. Every target installs the Debian packages it needs first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
ARGS ?=
# Cross builds for ARM gateways (docs/cross-building.md): ARCH=arm64 or armhf, built in
# $(BUILD_DIR)-$(ARCH). `make test` makes and tests the cross builds of CROSS_TEST_ARCHS.
ARCH ?=
CROSS_ARCHS := arm64 armhf
CROSS_TEST_ARCHS ?= arm64 armhf

.PHONY: deps configure build run test test-cross cross bench chaos chaos-embedded package format \
  format-check clean

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Starts the program on the first-run defaults (or pass ARGS="-config path/to/config.toml").
run: build
	$(BUILD_DIR)/app/harmonylite $(ARGS)

# Runs the whole ctest suite (labels unit, integration, e2e, qml, package, cross). The cross
# builds of CROSS_TEST_ARCHS come first; where their packages cannot be installed, the `cross`
# tests skip and say why.
test: build
	@for a in $(CROSS_TEST_ARCHS); do scripts/cross-build.sh --if-possible $$a $(BUILD_DIR)-$$a || exit 1; done
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 900

# The cross build of ARCH, and its `cross` tests (the unit tests under emulation, an emulated node
# replicating with native ones, its packages): make test-cross ARCH=armhf.
cross: cross-arch-given
	@scripts/cross-build.sh $(ARCH) $(BUILD_DIR)-$(ARCH)

test-cross: cross-arch-given build cross
	cd $(BUILD_DIR) && ctest --output-on-failure -L cross -R '_$(ARCH)$$' --timeout 900

.PHONY: cross-arch-given package-arch-known
package-arch-known:
	@case "$(ARCH)" in ""|amd64) ;; *) echo "ARCH=$(ARCH): packages are built for amd64 (no ARCH), arm64 or armhf" >&2; exit 2;; esac

cross-arch-given:
	@case "$(ARCH)" in arm64|armhf) ;; *) echo "give ARCH=arm64 or ARCH=armhf (docs/cross-building.md)" >&2; exit 2;; esac

# Benchmarks with full sizes; each prints its same-run baseline.
bench: build
	$(BUILD_DIR)/bench/capture_bench
	$(BUILD_DIR)/bench/digest_bench
	$(BUILD_DIR)/bench/replication_bench
	$(BUILD_DIR)/bench/snapshot_bench --sizes 100,500
	$(BUILD_DIR)/bench/store_bench --size 200 --runs 3
	xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb $(BUILD_DIR)/bench/dashboard_bench
	xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb $(BUILD_DIR)/bench/dashboard_bench --history-hours 24
	QT_QPA_PLATFORM=offscreen $(BUILD_DIR)/bench/dashboard_bench

# The chaos suite (docs/chaos.md): 20 rounds of faults against a 3-node cluster on 3 NATS
# servers; report in $(BUILD_DIR)/chaos. Replay a run with ARGS="--seed S".
chaos: build
	$(BUILD_DIR)/tests/hl_chaos --rounds 20 --check-the-checker --report $(BUILD_DIR)/chaos $(ARGS)

# The same 20 rounds on the second set-up: each node's embedded nats-server, joined as a cluster.
chaos-embedded: build
	$(BUILD_DIR)/tests/hl_chaos --topology embedded --rounds 20 --check-the-checker \
	  --report $(BUILD_DIR)/chaos-embedded $(ARGS)

# The installer packages (.deb, .tar.gz, and .rpm where rpmbuild exists) in $(BUILD_DIR)/packages;
# with ARCH=arm64 or ARCH=armhf, cross-built (.deb and .tar.gz) in $(BUILD_DIR)-$(ARCH)/packages.
ifeq ($(filter $(ARCH),$(CROSS_ARCHS)),)
package: package-arch-known configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target harmonylite
	cd $(BUILD_DIR) && cpack -B packages
	@ls -l $(BUILD_DIR)/packages/harmonylite*
else
package:
	@scripts/cross-build.sh $(ARCH) $(BUILD_DIR)-$(ARCH) harmonylite
	cd $(BUILD_DIR)-$(ARCH) && cpack -B packages
	@ls -l $(BUILD_DIR)-$(ARCH)/packages/harmonylite*
endif

# clang-format-14 on every C++ file git tracks, with .clang-format: `format` rewrites them in
# place, `format-check` only reports (as the ctest test `format` does).
format: deps
	@cmake -DMODE=fix -P cmake/RunClangFormat.cmake

format-check: deps
	@cmake -DMODE=check -P cmake/RunClangFormat.cmake

clean:
	rm -rf $(BUILD_DIR) $(addprefix $(BUILD_DIR)-,$(CROSS_ARCHS))
