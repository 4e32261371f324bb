#!/usr/bin/env bash
# Installs what Agent Inbox needs on Debian 12, skipping what is already there.
#   scripts/setup.sh run    packages to build and run the product
#   scripts/setup.sh test   those plus what the test suite needs (headless Chromium, Node.js)
set -euo pipefail

mode="${1:-test}"
# Building the desktop app (Tauri 2 on WebKitGTK) and running it.
packages=(build-essential pkg-config ca-certificates curl file libwebkit2gtk-4.1-dev libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev)
if [[ "$mode" == "test" ]]; then
  # Headless browser, display, session bus, notification servers, keychain, WebDriver.
  packages+=(chromium xvfb xauth dbus-x11 imagemagick webkit2gtk-driver x11-utils xdotool dunst libnotify-bin
    python3-dbusmock gnome-keyring libsecret-tools dbus-daemon)
fi
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ "$(id -u)" -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo (Rust 1.85 or newer, via rustup) is required and was not found on PATH" >&2
  exit 1
fi
