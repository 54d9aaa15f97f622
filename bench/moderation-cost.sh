#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/moderation-cost.sh: what banned words and flood control cost inside
# the broker. Starts mosquitto with the plugin three times on loopback:
#   off    no word list, flood control off
#   words  10,000 banned words (half English, half Korean), flood off
#   both   the same words, flood control on (limits too high to trigger)
# and each time publishes N chat messages (about 100 bytes, 1 in 16 with a
# banned word, masked) with mosquitto_pub -l while mosquitto_sub reads them
# all back; the broker's CPU time (utime + stime from /proc) divided by N
# is the cost per message. It also prints, from the broker's debug log, how
# long the 10,000-word filter took to build at start and to rebuild after a
# live addBannedWords.
#
#   bench/moderation-cost.sh [BUILD_DIR] [N]     (defaults: build, 50000)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
n=${2:-50000}
plugin=$build/plugin/mosquitto_chat.so
[[ -f $plugin ]] || { echo "no $plugin: build first" >&2; exit 1; }
work=$(mktemp -d /tmp/modcost.XXXXXX)
broker_pid=
cleanup() {
	[[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# 10,000 pseudo-random words from a fixed seed: 5,000 English (4-8 letters),
# 5,000 Korean (2-4 syllables, UTF-8 written byte by byte).
LC_ALL=C awk -v seed=7 'BEGIN {
	srand(seed)
	for (i = 0; i < 5000; i++) {
		w = ""; len = 4 + int(rand() * 5)
		for (k = 0; k < len; k++) w = w sprintf("%c", 97 + int(rand() * 26))
		print w
	}
	for (i = 0; i < 5000; i++) {
		w = ""; len = 2 + int(rand() * 3)
		for (k = 0; k < len; k++) {
			cp = 44032 + int(rand() * 11172)
			w = w sprintf("%c%c%c", 224 + int(cp / 4096), 128 + int(cp / 64) % 64, 128 + cp % 64)
		}
		print w
	}
}' >"$work/words.txt"

# N messages of about 100 bytes; every 16th carries a listed word.
hit=$(sed -n 1p "$work/words.txt")
LC_ALL=C awk -v n="$n" -v hit="$hit" 'BEGIN {
	for (i = 0; i < n; i++) {
		s = "message " i " the meeting starts at three tomorrow, see you there and bring the photos"
		if (i % 16 == 0) s = s " " hit
		print s
	}
}' >"$work/messages.txt"

port=$((20000 + RANDOM % 20000))

# The plugin authenticates the three bench users (it defers any login it
# does not check, and Mosquitto refuses a username nothing vouches for).
: >"$work/passwd"
for u in admin reader writer; do mosquitto_passwd -b "$work/passwd" "$u" bench-pw; done

start_broker() { # extra plugin options
	cat >"$work/mosquitto.conf" <<-EOF
	user root
	listener $port 127.0.0.1
	allow_anonymous false
	persistence false
	log_dest file $work/broker.log
	log_type all
	max_queued_messages 1000000
	plugin $plugin
	plugin_opt_auth password_file
	plugin_opt_password_file $work/passwd
	plugin_opt_admins admin
	plugin_opt_max_payload 8192
	$1
	EOF
	: >"$work/broker.log"
	mosquitto -c "$work/mosquitto.conf" &
	broker_pid=$!
	for _ in $(seq 100); do
		grep -q "mosquitto version .* running" "$work/broker.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "broker did not start" >&2
	cat "$work/broker.log" >&2
	exit 1
}

stop_broker() {
	kill "$broker_pid"
	wait "$broker_pid" 2>/dev/null || true
	broker_pid=
}

admin() { # one command object
	mosquitto_rr -p "$port" -u admin -P bench-pw -t '$CONTROL/chat/v1' -e '$CONTROL/chat/v1/response' -W 5 \
		-m "{\"commands\":[$1]}" >/dev/null
}

cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$broker_pid/stat"
}

# Prints the broker's CPU microseconds per message for one configuration.
run() { # name, extra plugin options
	start_broker "$2"
	admin '{"command":"createRoom","room":"bench"}'
	admin '{"command":"addRoomMember","room":"bench","user":"writer"}'
	admin '{"command":"addRoomMember","room":"bench","user":"reader"}'
	mosquitto_sub -p "$port" -u reader -P bench-pw -t chat/rooms/bench/messages -q 1 -C "$n" >"$work/received.txt" &
	local sub=$!
	sleep 0.5 # the subscription is in place before the first message
	local before after hz
	hz=$(getconf CLK_TCK)
	before=$(cpu_ticks)
	mosquitto_pub -p "$port" -u writer -P bench-pw -t chat/rooms/bench/messages -q 1 -l <"$work/messages.txt"
	wait "$sub"
	after=$(cpu_ticks)
	local masked
	masked=$(grep -c '\*\*\*' "$work/received.txt" || true)
	awk -v name="$1" -v t="$((after - before))" -v hz="$hz" -v n="$n" -v m="$masked" 'BEGIN {
		printf "%-6s %8.2f us/message broker CPU  (%d messages, %d masked)\n", name, t * 1e6 / hz / n, n, m }' 
	if [[ $1 == words ]]; then
		admin '{"command":"addBannedWords","words":["pineapple"]}'
		mosquitto_pub -p "$port" -u writer -P bench-pw -t chat/rooms/bench/messages -q 1 -m "one more"
		grep -o 'word filter global rebuilt: [0-9]\{4,\} banned.*' "$work/broker.log" | head -2 |
			sed 's/^/       /' || true
	fi
	stop_broker
}

flood_off="plugin_opt_flood_rate 0
plugin_opt_flood_repeat 0"
run off "$flood_off"
run words "$flood_off
plugin_opt_banned_words_file $work/words.txt"
run both "plugin_opt_banned_words_file $work/words.txt
plugin_opt_flood_rate 1000000
plugin_opt_flood_burst 1000000"
