#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/messenger-cost.sh: instructions the plugin spends per chat message
# in its MESSAGE callback (chat_on_message and everything it calls), counted
# by callgrind inside a real mosquitto. Run it on two builds to see what a
# change costs on the message path, e.g. the messenger hooks (edit record,
# mentions scan, typing end):
#
#   bench/messenger-cost.sh PLUGIN_SO [N]     (N messages, default 2000)
#
# Publishes N plain messages of about 100 bytes (1 in 8 with an @mention of
# a member) into one room with mosquitto_pub -l at QoS 1, without a bridge
# (plugin_opt_require_store false) and with flood control off, then prints
# the instructions counted in chat_on_message divided by N. COLLECT=all
# counts the whole broker instead (start, the admin request and stop
# included), for scale.
set -euo pipefail

plugin=$(realpath "${1:?usage: messenger-cost.sh PLUGIN_SO [N]}")
n=${2:-2000}
work=$(mktemp -d /tmp/msgcost.XXXXXX)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for u in alice bob admin; do mosquitto_passwd -b $([[ -f $work/passwd ]] || echo -c) "$work/passwd" "$u" "$u-pw"; done
cat >"$work/mosquitto.conf" <<CONF
per_listener_settings false
user root
listener $port 127.0.0.1
allow_anonymous false
persistence false
log_dest file $work/broker.log
plugin $plugin
plugin_opt_auth password_file
plugin_opt_password_file $work/passwd
plugin_opt_admins admin
plugin_opt_require_store false
plugin_opt_flood_rate 0
plugin_opt_flood_repeat 0
CONF
collect=--toggle-collect=chat_on_message
[[ ${COLLECT:-} == all ]] && collect=--collect-atstart=yes
valgrind --tool=callgrind "$collect" --callgrind-out-file="$work/cg.out" \
	/usr/sbin/mosquitto -c "$work/mosquitto.conf" >"$work/valgrind.log" 2>&1 &
pid=$!
python3 - "$port" <<'PY'
import socket, sys, time
for _ in range(600):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        break
    except OSError:
        time.sleep(0.1)
PY
mosquitto_rr -p "$port" -u admin -P admin-pw -t '$CONTROL/chat/v1' -e '$CONTROL/chat/v1/response' -W 30 \
	-m '{"commands":[{"command":"createRoom","room":"bench"},{"command":"addRoomMember","room":"bench","user":"alice"},
	     {"command":"addRoomMember","room":"bench","user":"bob"}]}' >/dev/null
seq "$n" | awk '{ if ($1 % 8 == 0) m = " @bob"; else m = ""; printf "message %06d of the benchmark, some ordinary chat text to fill about a hundred bytes%s\n", $1, m }' |
	mosquitto_pub -p "$port" -u alice -P alice-pw -t chat/rooms/bench/messages -q 1 -l
kill -TERM "$pid"
wait "$pid" || true
pid=
ir=$(callgrind_annotate "$work/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
echo "$plugin: $n messages, ${COLLECT:-chat_on_message}: $ir instructions, $((ir / n)) per message"
