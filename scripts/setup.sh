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

# Node.js 20.19+ or 22.12+ (Vite 8, jsdom). Debian 12's own nodejs is 18, so when node is
# missing or older, the official build is fetched from the npm registry (packages
# node-linux-<arch> and npm) into /opt/agent-inbox-node and linked from /usr/local/bin.
node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number);
      process.exit(a > 22 || (a === 22 && b >= 12) || (a === 20 && b >= 19) ? 0 : 1)'
}
install_node() {
  local registry=https://registry.npmjs.org arch dir=/opt/agent-inbox-node
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "setup: no Node.js build for $(uname -m); install Node.js 20.19+ yourself" >&2; exit 1 ;;
  esac
  echo "setup: installing Node.js 22 and npm 10 from the npm registry into $dir"
  local sudo_cmd=()
  [[ "$(id -u)" -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" rm -rf "$dir"
  "${sudo_cmd[@]}" mkdir -p "$dir/lib/npm"
  curl -fsSL "$registry/node-linux-$arch/-/node-linux-$arch-22.23.5.tgz" |
    "${sudo_cmd[@]}" tar xz -C "$dir" --strip-components=1
  curl -fsSL "$registry/npm/-/npm-10.9.9.tgz" | "${sudo_cmd[@]}" tar xz -C "$dir/lib/npm" --strip-components=1
  "${sudo_cmd[@]}" ln -sf "$dir/bin/node" /usr/local/bin/node
  for tool in npm npx; do
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$dir/bin/node" "$dir/lib/npm/bin/$tool-cli.js" |
      "${sudo_cmd[@]}" tee "/usr/local/bin/$tool" >/dev/null
    "${sudo_cmd[@]}" chmod +x "/usr/local/bin/$tool"
  done
  hash -r
}
node_ok || install_node
node_ok || { echo "setup: Node.js 20.19+ with npm is required (found $(node --version 2>/dev/null || echo none))" >&2; exit 1; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo (Rust 1.85 or newer, via rustup) is required and was not found on PATH" >&2
  exit 1
fi
