#!/usr/bin/env bash
# hookflow's prerequisites, checked one by one: found / missing, and the exact command that fixes it.
#
#   scripts/doctor.sh                  report only (make doctor)
#   scripts/doctor.sh --install test   install what the system package manager can, then check
#                                      what `make test` needs (make test runs this first)
#   scripts/doctor.sh --install start  the same for `make start`, plus its ports
#   scripts/doctor.sh --install build  what building needs (make bench, make build)
#   scripts/doctor.sh --install cluster  what `make start-cluster` needs (PostgreSQL among it)
#
# Exit status 0 when everything the chosen command needs is there (or was installed), 1 otherwise.
# System packages are installed only when missing, with one `apt-get update` per run, so a machine
# that has them hears nothing from apt. Node.js and Go are the user's to bring: Debian's are too old.
set -u

cd "$(dirname "$0")/.." || exit 1

INSTALL=0
PURPOSE=all
for arg in "$@"; do
  case "$arg" in
    --install) INSTALL=1 ;;
    start | test | build | cluster | all) PURPOSE=$arg ;;
    *)
      echo "usage: scripts/doctor.sh [--install] [start|test|build|cluster|all]" >&2
      exit 2
      ;;
  esac
done

NODE_MIN=$(sed -n 's/.*"node": *">=\([0-9.]*\)".*/\1/p' package.json)
GO_MIN=1.22
TEMPORAL_CLI=${HOOKFLOW_TEMPORAL_CLI:-$PWD/.tools/temporal}
CHROMIUM=/usr/bin/chromium
# The Debian packages behind each binary we may install.
APT_BUILD="build-essential python3"
APT_CHROMIUM="chromium"
APT_POSTGRES="postgresql"
APT_VENV="python3-venv"

failures=0
apt_updated=0
why_not=""
# Quiet: the doctor's table is the output; apt speaks only when it fails.
apt_install() {
  local as_root=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root="sudo -n"
    else
      why_not="cannot install: not root and no password-less sudo"
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    why_not="cannot install: no apt-get on this system"
    return 1
  fi
  local log
  log=$(mktemp)
  if [ "$apt_updated" -eq 0 ]; then
    if ! $as_root apt-get update -qq >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      why_not="cannot install: apt-get update failed (above)"
      return 1
    fi
    apt_updated=1
  fi
  if ! DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    why_not="cannot install: apt-get install $* failed (above)"
    return 1
  fi
  rm -f "$log"
}

sudo_prefix() {
  [ "$(id -u)" -eq 0 ] || printf 'sudo '
}

# report STATUS NAME DETAIL [FIX]
report() {
  local status=$1 name=$2 detail=$3 fix=${4:-}
  printf '  %-9s %-22s %s\n' "$status" "$name" "$detail"
  [ -z "$fix" ] || printf '  %-9s %-22s fix: %s\n' "" "" "$fix"
  [ "$status" != "missing" ] || failures=$((failures + 1))
}

version_at_least() {
  # version_at_least HAVE WANT: HAVE >= WANT in version order.
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

# check_or_install NAME TEST-COMMAND PACKAGES: with --install, apt-get installs PACKAGES when
# TEST-COMMAND fails.
check_or_install() {
  local name=$1 test_cmd=$2 packages=$3
  if eval "$test_cmd"; then
    report found "$name" "$(describe "$name")"
    return
  fi
  why_not=""
  # shellcheck disable=SC2086 # the package list is meant to split
  if [ "$INSTALL" -eq 1 ] && apt_install $packages && eval "$test_cmd"; then
    report installed "$name" "$(describe "$name") (apt-get install $packages)"
    return
  fi
  report missing "$name" "not found${why_not:+ ($why_not)}" "$(sudo_prefix)apt-get update && $(sudo_prefix)apt-get install -y $packages"
}

describe() {
  case "$1" in
    "C/C++ toolchain") printf '%s, %s' "$(gcc --version | head -n 1)" "$(g++ --version | head -n 1 | sed 's/ (.*)//')" ;;
    make) make --version | head -n 1 ;;
    python3) python3 --version 2>&1 ;;
    "python3 venv") printf '%s -m venv' "$(python3 --version 2>&1)" ;;
    Chromium) "$CHROMIUM" --version 2>/dev/null | head -n 1 ;;
    PostgreSQL) printf '%s at %s' "$("$(postgres_bin)/postgres" --version 2>/dev/null)" "$(postgres_bin)" ;;
  esac
}

# The folder of initdb/pg_ctl/postgres, found as src/cluster/postgres.ts findPostgresBin() finds it:
# HOOKFLOW_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin (Debian puts none on PATH).
postgres_bin() {
  if [ -n "${HOOKFLOW_PG_BIN:-}" ]; then
    [ -x "$HOOKFLOW_PG_BIN/initdb" ] && printf '%s' "$HOOKFLOW_PG_BIN"
    return
  fi
  local v
  for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then
      printf '%s' "/usr/lib/postgresql/$v/bin"
      return
    fi
  done
}

port_free() {
  # Nothing answers on 127.0.0.1:PORT. bash's /dev/tcp needs no extra tool.
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

echo "hookflow doctor ($PURPOSE)"

# Node.js and npm: the user brings them.
if command -v node >/dev/null 2>&1; then
  have=$(node --version | sed 's/^v//')
  if version_at_least "$have" "$NODE_MIN"; then
    report found "Node.js >= $NODE_MIN" "v$have at $(command -v node)"
  else
    report missing "Node.js >= $NODE_MIN" "v$have is too old" "install Node.js $NODE_MIN or later (for example: nvm install 20)"
  fi
else
  report missing "Node.js >= $NODE_MIN" "not found" "install Node.js $NODE_MIN or later (for example: nvm install 20)"
fi
if command -v npm >/dev/null 2>&1; then
  have=$(npm --version 2>/dev/null)
  if version_at_least "$have" 10; then
    report found "npm" "$have"
  else
    report missing "npm" "$have is too old" "npm install -g npm@11"
  fi
else
  report missing "npm" "not found" "install Node.js (npm comes with it)"
fi

# Go: only to build the Temporal CLI once into .tools/.
if [ -x "$TEMPORAL_CLI" ]; then
  report found "Temporal CLI" "$("$TEMPORAL_CLI" --version 2>/dev/null | head -n 1) at $TEMPORAL_CLI"
  if command -v go >/dev/null 2>&1; then
    report found "Go" "$(go version | awk '{print $3}') (not needed again: the CLI is built)"
  fi
else
  if command -v go >/dev/null 2>&1 && version_at_least "$(go env GOVERSION | sed 's/^go//')" "$GO_MIN"; then
    report found "Go >= $GO_MIN" "$(go version | awk '{print $3}') at $(command -v go)"
    # make builds it right after the doctor; only `make doctor` alone calls it missing.
    if [ "$INSTALL" -eq 1 ]; then
      report pending "Temporal CLI" "not built yet: make builds it next into .tools/ (make tools)"
    else
      report missing "Temporal CLI" "not at $TEMPORAL_CLI" "make tools"
    fi
  else
    report missing "Go >= $GO_MIN" "$(command -v go >/dev/null 2>&1 && go version || echo 'not found')" \
      "install Go $GO_MIN or later (needed once, to build the Temporal CLI)"
    report missing "Temporal CLI" "not at $TEMPORAL_CLI" "install Go, then: make tools"
  fi
fi

# Go again for the Temporal server, its schema tool and the Web UI server (`make test` runs the cluster
# suite, `make start-cluster` runs them): their modules need a newer Go than the CLI's.
SERVER_VERSION=$(sed -n 's/^TEMPORAL_SERVER_VERSION := //p' Makefile)
SERVER_GO_MIN=1.26.8
if [ "$PURPOSE" = test ] || [ "$PURPOSE" = cluster ] || [ "$PURPOSE" = all ]; then
  if [ -x ".tools/temporal-server-$SERVER_VERSION/server" ]; then
    report found "Temporal server" "$SERVER_VERSION at .tools/temporal-server-$SERVER_VERSION/server"
  elif command -v go >/dev/null 2>&1 && version_at_least "$(go env GOVERSION | sed 's/^go//')" "$SERVER_GO_MIN"; then
    if [ "$INSTALL" -eq 1 ]; then
      report pending "Temporal server" "not built yet: make builds it next into .tools/ (make cluster-tools)"
    else
      report missing "Temporal server" "not built" "make cluster-tools"
    fi
  else
    report missing "Go >= $SERVER_GO_MIN" "$(command -v go >/dev/null 2>&1 && go version || echo 'not found')" \
      "install Go $SERVER_GO_MIN or later (needed once, to build the Temporal server $SERVER_VERSION)"
  fi
fi

# better-sqlite3 and argon2's native modules compile on `npm ci` when no prebuilt binary fits.
check_or_install "C/C++ toolchain" "command -v gcc >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1" "$APT_BUILD"
check_or_install make "command -v make >/dev/null 2>&1" "$APT_BUILD"
check_or_install python3 "command -v python3 >/dev/null 2>&1" "$APT_BUILD"

# Debian's Chromium for the page tests (playwright-core drives it; nothing downloads a browser).
if [ "$PURPOSE" = test ] || [ "$PURPOSE" = all ]; then
  check_or_install Chromium "[ -x $CHROMIUM ]" "$APT_CHROMIUM"
fi

# python3 -m venv for schemathesis (make fuzz, and its short run in make test): Debian ships it apart.
if [ "$PURPOSE" = test ] || [ "$PURPOSE" = all ]; then
  check_or_install "python3 venv" "python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null" "$APT_VENV"
fi

# PostgreSQL: the test suite runs on it too (a throwaway cluster per run); `make start-cluster` keeps one.
# Debian's package starts a cluster of its own as a service; ours run as plain processes beside it.
if [ "$PURPOSE" = test ] || [ "$PURPOSE" = cluster ] || [ "$PURPOSE" = all ]; then
  check_or_install PostgreSQL '[ -n "$(postgres_bin)" ]' "$APT_POSTGRES"
fi

# Ports `make start` listens on; the tests pick free ports themselves.
if [ "$PURPOSE" = start ] || [ "$PURPOSE" = all ]; then
  api_port=${HOOKFLOW_API_PORT:-3000}
  temporal_port=${TEMPORAL_ADDRESS:-localhost:7233}
  temporal_port=${temporal_port##*:}
  ui_port=${HOOKFLOW_TEMPORAL_UI_PORT:-8233}
  if port_free "$api_port"; then
    report found "port $api_port (API)" "free"
  else
    report missing "port $api_port (API)" "in use" "stop what listens there, or HOOKFLOW_API_PORT=<port> make start"
  fi
  if port_free "$temporal_port"; then
    report found "port $temporal_port (Temporal)" "free: make start runs the dev server"
    if port_free "$ui_port"; then
      report found "port $ui_port (Web UI)" "free"
    else
      report missing "port $ui_port (Web UI)" "in use" "stop what listens there, or HOOKFLOW_TEMPORAL_UI_PORT=<port> make start"
    fi
  else
    report found "port $temporal_port (Temporal)" "in use: make start uses the Temporal server there"
  fi
fi

if [ "$failures" -gt 0 ]; then
  echo "doctor: $failures missing; run the fix lines above, then try again."
  exit 1
fi
echo "doctor: ready."
