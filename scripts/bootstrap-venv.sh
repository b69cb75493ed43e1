#!/usr/bin/env bash
# Create .venv with Python >= 3.11 and install the pinned requirements.
# On Debian/Ubuntu as root, installs python3-venv / pip with apt when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip
  else
    echo "error: $PYTHON not found. Install Python >= 3.11 (sudo apt-get install python3 python3-venv)." >&2
    exit 1
  fi
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: Pantau needs Python >= 3.11; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      minor=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${minor}-venv" || \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
      "$PYTHON" -m venv .venv
    else
      echo "error: '$PYTHON -m venv' failed. Install it: sudo apt-get install python3-venv" >&2
      exit 1
    fi
  fi
fi
# A C compiler and the interpreter's headers, for the ingest's compiled row encoder (setup.py,
# which `make venv` runs next).
include=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
if ! command -v cc >/dev/null 2>&1 || [ ! -f "$include/Python.h" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    minor=$(.venv/bin/python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc "python${minor}-dev" || \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc python3-dev
  else
    echo "error: building the row encoder needs a C compiler and $include/Python.h:" \
      "sudo apt-get install gcc python3-dev" >&2
    exit 1
  fi
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements-dev.txt
echo "Python environment ready in .venv ($(.venv/bin/python --version))"
