# SPDX-License-Identifier: MIT
# Shared by scripts/test, scripts/demo and scripts/bench (sourced, not run):
# where the repository is, and installing what a bare Debian 12 machine lacks.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages the build, the tests and the demo need.
chat_packages=(
	build-essential cmake pkg-config clang libclang-rt-14-dev
	mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev
	libmongoc-dev libbson-dev libcurl4-openssl-dev libcjson-dev libssl-dev
	uthash-dev libmicrohttpd-dev libcmocka-dev libutf8proc-dev libicu-dev
	jq curl valgrind openssl
)

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "$*"; exit 1; }

# Installs the packages that are missing (apt-get update once, only then):
# chat_packages, or the packages named as arguments.
ensure_packages() {
	local want=("$@") missing=() p
	[[ $# -gt 0 ]] || want=("${chat_packages[@]}")
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	log "installing: ${missing[*]}"
	local sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
	# The mosquitto package starts a system broker on port 1883; the project
	# starts its own brokers, so leave the system one as the operator had it.
}

# Configures and builds into $1 with extra cmake arguments after it.
build_into() {
	local dir=$1
	shift
	mkdir -p "$dir"
	cmake -S "$repo" -B "$dir" "$@" >"$dir/configure.log" 2>&1 ||
		{ cat "$dir/configure.log" >&2; die "cmake configure failed ($dir)"; }
	cmake --build "$dir" -j "$(nproc)" >"$dir/build.log" 2>&1 ||
		{ grep -E -A5 'error|Error' "$dir/build.log" | head -60 >&2; die "build failed ($dir), see $dir/build.log"; }
}

# The web app (web/): node and npm (Debian's when there is no node yet; a
# newer one already installed is kept), then its npm packages from the lock
# file (npm ci) when node_modules is missing or older than the lock file.
# With "browser", also Debian's Chromium, which the browser test drives.
ensure_web() {
	local want=() stamp=$repo/web/node_modules/.package-lock.json
	command -v node >/dev/null || want+=(nodejs)
	command -v npm >/dev/null || want+=(npm)
	# Chromium, and Korean and emoji fonts so that its screenshots show Hangul
	# and reactions.
	[[ ${1:-} != browser ]] || want+=(chromium fonts-nanum fonts-noto-color-emoji)
	[[ ${#want[@]} -eq 0 ]] || ensure_packages "${want[@]}"
	if [[ ! -f $stamp || $repo/web/package-lock.json -nt $stamp ]]; then
		log "installing the web app's npm packages (npm ci in web/)"
		(cd "$repo/web" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in web/"
	fi
}

# The listener address that keeps a WebSockets listener of broker $1 on
# loopback. Mosquitto 2.0.x takes its WebSockets from libwebsockets, which
# binds the interface a name gives ("lo") but every interface when given an
# IP address; 2.1's own WebSockets take the address like any listener.
ws_loopback() {
	local version
	version=$("$1" -h 2>&1 | head -1 || true)
	if [[ $version == *"version 2.0."* ]]; then echo lo; else echo 127.0.0.1; fi
}
