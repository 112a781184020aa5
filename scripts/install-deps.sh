#!/usr/bin/env bash
# Installs every Debian package vmvault needs, and nothing that is already there.
#
#   scripts/install-deps.sh            build, run and test packages
#   scripts/install-deps.sh bench      also the peers the benchmark compares against
#   scripts/install-deps.sh --check    exit 0 when everything is installed, 1 if not
#
# The dashboard's browser tests also need Node.js with npm (Debian's nodejs and npm
# when no node is installed), Debian's chromium, and playwright-core, installed by
# npm into tests/browser/node_modules at the version tests/browser/package.json pins.
#
# Idempotent: a second run with everything present makes no apt call at all.
# Uses sudo when not run as root.
set -euo pipefail

# Build: compiler, pkg-config and the -dev packages of every library we link.
BUILD_PKGS=(build-essential pkg-config libssl-dev libzstd-dev libjansson-dev
            libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev tzdata
            libvirt-dev libnbd-dev libxml2-dev)
# Run: what the host agent drives (libvirt, QEMU, qemu-nbd).
RUN_PKGS=(libvirt-daemon-system qemu-system-x86 qemu-utils libnbd-bin nbdkit)
# Test: sanitizer and fuzzer runtimes (clang), tools the end-to-end tests drive, and
# what tests/tools/make-guest.sh builds the test guest from (a kernel, a static
# busybox, qemu-ga and cpio for its initramfs; e2fsprogs for its disk).
TEST_PKGS=(clang libclang-rt-dev e2fsprogs xxd python3 curl zstd sqlite3 procps
           linux-image-cloud-amd64 busybox-static qemu-guest-agent cpio
           tinyproxy-bin nftables iproute2 openssl chromium)
# Benchmark peers (bench/run only).
BENCH_PKGS=(restic borgbackup casync zstd time e2fsprogs openssl)

# The browser tests' npm packages (tests/browser/package.json, package-lock.json).
TOP=$(cd "$(dirname "$0")/.." && pwd)
BROWSER_DIR=$TOP/tests/browser
PLAYWRIGHT_VERSION=$(sed -n 's/.*"playwright-core": *"\([^"]*\)".*/\1/p' "$BROWSER_DIR/package.json")

# 0 when tests/browser/node_modules holds the pinned playwright-core.
browser_modules_ok() {
    local f=$BROWSER_DIR/node_modules/playwright-core/package.json
    [ -r "$f" ] && grep -q "\"version\": *\"$PLAYWRIGHT_VERSION\"" "$f"
}

check_only=0
groups=(build test)
for a in "$@"; do
    case "$a" in
        --check) check_only=1 ;;
        bench) groups+=(bench) ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-deps.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
    esac
done

wanted=()
for g in "${groups[@]}"; do
    case "$g" in
        build) wanted+=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}") ;;
        test) wanted+=("${TEST_PKGS[@]}") ;;
        bench) wanted+=("${BENCH_PKGS[@]}") ;;
    esac
done

missing=()
for p in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
# Deduplicate while keeping order.
if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
fi

# Node.js and npm: the machine's own when there (any origin), else Debian's.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

npm_missing=0
browser_modules_ok || npm_missing=1

if [ ${#missing[@]} -eq 0 ] && [ "$npm_missing" = 0 ]; then
    exit 0
fi
if [ "$check_only" = 1 ]; then
    [ ${#missing[@]} -eq 0 ] || echo "missing packages: ${missing[*]}" >&2
    [ "$npm_missing" = 0 ] || echo "missing npm packages: playwright-core@$PLAYWRIGHT_VERSION in tests/browser" >&2
    exit 1
fi

SUDO=
if [ "$(id -u)" != 0 ] && [ ${#missing[@]} -gt 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps.sh: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! browser_modules_ok; then
    echo "install-deps.sh: installing playwright-core@$PLAYWRIGHT_VERSION into tests/browser"
    # npm ci follows package-lock.json exactly; playwright-core downloads no browser.
    (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
