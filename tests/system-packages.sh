#!/usr/bin/env bash
# System packages the test suite drives for real: Chromium + ChromeDriver (the Neo4j
# Browser test) and nginx (the Browser guide's server, docker/guide-nginx.conf).
# Installs them from Debian when missing and we are root; otherwise says what is missing
# (those tests then fail with the reason, they do not skip).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (Debian packages) for the browser and guide tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "missing system packages: ${missing[*]} (apt-get install them as root)" >&2
fi
