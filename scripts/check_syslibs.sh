#!/usr/bin/env bash
# Checks the system libraries that the Python wheels need (open3d loads libusb-1.0).
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
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system libraries: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "error: missing system libraries: ${missing[*]}" >&2
    echo "install them with:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
