#!/usr/bin/env bash
# Checks the system libraries that the Python wheels need (open3d loads libusb-1.0), the
# headless Chromium that renders run reports in the tests and valgrind (both optional
# without root).
# Installs them with apt-get when running as root; otherwise prints the command and fails.
set -euo pipefail
if [ "$(uname -s)" != "Linux" ]; then
    exit 0  # the wheels for other systems bundle what they need
fi
missing=()
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
    missing+=(libusb-1.0-0)
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libgomp.so.1'; then
    missing+=(libgomp1)
fi
# Chromium renders report.html in the tests (scripts/check_report.py); without it, and
# without root to install it, the rendering test is skipped (CI runs as root).
optional=()
if ! command -v chromium >/dev/null 2>&1; then
    optional+=(chromium)
fi
# valgrind counts instructions (`navion replay --count-instructions`,
# benchmarks/cpu_instructions.py) where perf has no hardware counter, e.g. in VMs.
if ! command -v valgrind >/dev/null 2>&1; then
    optional+=(valgrind)
fi
if [ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]} ${optional[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" "${optional[@]}" >/dev/null
elif [ ${#missing[@]} -eq 0 ]; then
    echo "note: ${optional[*]} not found: without chromium the report rendering test is skipped," >&2
    echo "      without valgrind --count-instructions needs perf (sudo apt-get install -y ${optional[*]})" >&2
else
    echo "error: missing system libraries: ${missing[*]}" >&2
    echo "install them with:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
