#!/usr/bin/env bash
# The fuzzer's Python environment (.tools/fuzz-venv, schemathesis pinned in fuzz/requirements.txt),
# installed here by `make test` and `make fuzz` before any test runs, so no test downloads a package.
# Kept in step with test/harness/fuzz.ts ensureFuzzVenv(): the same folder and the same stamp (the
# SHA-256 of the requirements file), so a venv made here is reused there and rebuilt when they change.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/fuzz-venv
REQUIREMENTS=fuzz/requirements.txt
wanted=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ -x "$VENV/bin/st" ] && [ "$(cat "$VENV/requirements.sha256" 2>/dev/null)" = "$wanted" ]; then
  exit 0
fi
echo "creating $VENV from $REQUIREMENTS..."
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
if ! python3 -m venv "$VENV" || [ ! -x "$VENV/bin/pip" ]; then
  rm -rf "$VENV"
  echo "python3 -m venv failed; fix: apt-get install -y python3-venv (make test runs the doctor, which installs it)" >&2
  exit 1
fi
if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS" || [ ! -x "$VENV/bin/st" ]; then
  rm -rf "$VENV"
  echo "pip install -r $REQUIREMENTS failed" >&2
  exit 1
fi
printf '%s' "$wanted" > "$VENV/requirements.sha256"
