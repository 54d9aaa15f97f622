#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/manual/topics.sh: pastes topics.md into a shell, as a reader would,
# against a fresh scripts/demo, and fails when a command does not print what
# the manual says it prints.
#
#   tests/manual/topics.sh BUILD_DIR [TOPICS_MD]
#
# The demo runs from BUILD_DIR's binaries (CHAT_DEMO_BUILD), in the private
# directory BUILD_DIR/manual-demo, on a port of its own; it is stopped at the
# end whatever happens, and its logs stay there. What the test reads in the
# manual (topics.md says it to readers in two lines):
#
# - Every ```sh block, in file order, in one shell (functions and variables
#   carry over) whose working directory is the demo's. `-p 1883` is given
#   the demo's port.
# - A command is a line, plus the lines that complete it (an open quote or
#   brace, a trailing backslash).
# - `# → text` after a command is a line it prints, stdout and stderr
#   together as in a terminal; a `#` line indented by two blanks or more
#   right after it continues it (joined without those blanks). Those lines
#   are all it prints, in order. `...` in a line matches any text; message
#   ids and Unix-ms times match any id and time.
# - A command ending in `&` runs in the background (a mosquitto_sub with -C,
#   so that it ends by itself). The next command starts once its SUBACK is
#   in (the test adds -d and drops the debug lines). What it prints belongs
#   to the `# →` lines of the commands after it, mixed with theirs as it
#   arrives, as in a terminal; by the end of its `##` section it must have
#   ended with nothing left over.
#
# Each mosquitto client gets a timeout (10 s, 30 s in the background; the
# other commands of the manual, printf and openssl, end by themselves), and
# the lines of a command are awaited at most 10 s, polling, no fixed sleep.
# Should ctest kill the test outright, the next run stops the demo it left.
set -o pipefail

mt_build=${1:?usage: topics.sh BUILD_DIR [TOPICS_MD]}
mt_repo=$(cd "$(dirname "$0")/../.." && pwd)
mt_doc=${2:-$mt_repo/topics.md}
mt_dir=$mt_build/manual-demo
mt_started=$SECONDS

# --- reading the manual --------------------------------------------------

# Parallel arrays, one entry per command: its text, its topics.md line, its
# section, and its expected lines (joined by newlines).
mt_cmds=() mt_lines=() mt_sections=() mt_expect=()

# True when $1 is a whole shell command (quotes and braces closed, no
# trailing backslash).
mt_complete() {
	[[ $1 != *\\ ]] && bash -n <<<"$1" 2>/dev/null
}

mt_parse() {
	local n=0 raw line fence=0 indent="" section="" pending="" pending_at=0 last=-1 cont=0
	while IFS= read -r raw || [[ -n $raw ]]; do
		n=$((n + 1))
		if ((!fence)); then
			[[ $raw == '## '* ]] && section=${raw#'## '}
			if [[ $raw =~ ^([[:space:]]*)\`\`\`sh[[:space:]]*$ ]]; then
				fence=1 indent=${BASH_REMATCH[1]} last=-1 cont=0
			fi
			continue
		fi
		line=${raw#"$indent"}
		if [[ -z $pending && $line =~ ^[[:space:]]*\`\`\`[[:space:]]*$ ]]; then
			fence=0
			continue
		fi
		if [[ -n $pending ]]; then
			pending+=$'\n'$line
		elif [[ $line =~ ^[[:space:]]*#\ →\ (.*)$ ]]; then
			((last >= 0)) || { echo "topics.md:$n: an output line before any command" >&2; exit 1; }
			mt_expect[last]+=${mt_expect[last]:+$'\n'}${BASH_REMATCH[1]}
			cont=1
			continue
		elif ((cont)) && [[ $line =~ ^[[:space:]]*#[[:space:]]{2,}(.*)$ ]]; then
			mt_expect[last]+=${BASH_REMATCH[1]}
			continue
		elif [[ $line =~ ^[[:space:]]*(#.*)?$ ]]; then
			cont=0
			continue
		else
			pending=$line pending_at=$n
		fi
		cont=0
		if mt_complete "$pending"; then
			last=${#mt_cmds[@]}
			mt_cmds+=("$pending") mt_lines+=("$pending_at") mt_sections+=("$section") mt_expect+=("")
			pending=""
		fi
	done <"$mt_doc"
	[[ -z $pending ]] || { echo "topics.md:$pending_at: a command that never ends" >&2; exit 1; }
	((!fence)) || { echo "topics.md: a code block that never ends" >&2; exit 1; }
}

# --- comparing -----------------------------------------------------------

# Prints stdin with message ids and Unix-ms times replaced by placeholders.
mt_normalize() {
	sed -E -e 's/\b[0-9A-HJKMNP-TV-Z]{26}\b/<id>/g' -e 's/\b1[0-9]{12}\b/<ms>/g'
}

# True when line $1 matches expected line $2, in which "..." matches any text.
mt_match() {
	local line=$1 rest=$2 piece first=1
	while [[ $rest == *...* ]]; do
		piece=${rest%%...*}
		rest=${rest#*...}
		if ((first)); then
			[[ $line == "$piece"* ]] || return 1
			line=${line#"$piece"}
		else
			[[ $line == *"$piece"* ]] || return 1
			line=${line#*"$piece"}
		fi
		first=0
	done
	if ((first)); then [[ $line == "$rest" ]]; else [[ $line == *"$rest" ]]; fi
}

# --- running -------------------------------------------------------------

mt_port=""
# Background jobs: pid, output file, lines of it already matched, whether
# its -d lines are to be dropped, its topics.md line.
mt_bg_pids=() mt_bg_files=() mt_bg_used=() mt_bg_filter=() mt_bg_at=()
mt_failed=0

# The clients, with a timeout, and line-buffered as on a terminal (so that
# lines show as they come, stdout and stderr in order).
mosquitto_pub() { timeout 10 stdbuf -oL mosquitto_pub "$@"; }
mosquitto_rr() { timeout 10 stdbuf -oL mosquitto_rr "$@"; }
# In the background (mt_bg set), with -d so that the SUBACK shows.
mosquitto_sub() {
	if [[ -n ${mt_bg:-} ]]; then exec timeout 30 stdbuf -oL mosquitto_sub -d "$@"; fi
	timeout 10 stdbuf -oL mosquitto_sub "$@"
}

# Prints the complete lines of file $1, without the debug lines of
# mosquitto_sub -d when $3 is 1, after the first $2 of them.
mt_new_lines() {
	local total
	total=$(wc -l <"$1")
	head -n "$total" "$1" | if [[ $3 == 1 ]]; then
		grep -Ev '^(Client [^ ]+ (sending|received) |Subscribed \(mid: [0-9]+\): )' || true
	else
		cat
	fi | tail -n +"$(($2 + 1))"
}

mt_fail() {
	local i=$1
	shift
	mt_failed=1
	{
		echo "FAIL topics.md:${mt_lines[i]} (${mt_sections[i]}): $*"
		echo "  command:"
		sed 's/^/    /' <<<"${mt_cmds[i]}"
	} >&2
}

# Loads the window of command $1, whose output is in file $2, into mt_src:
# element 0 its own lines, element j+1 the new lines of background job j
# (normalized, one source per element, each in order).
mt_window() {
	local j
	mt_src=()
	mt_src[0]=$(mt_normalize <"$2")
	for j in "${!mt_bg_pids[@]}"; do
		mt_src[j + 1]=$(mt_new_lines "${mt_bg_files[j]}" "${mt_bg_used[j]}" "${mt_bg_filter[j]}" | mt_normalize)
	done
}

# Lines in mt_src, all sources.
mt_window_size() {
	local k n=0
	for k in "${!mt_src[@]}"; do
		[[ -z ${mt_src[k]} ]] || n=$((n + $(grep -c '' <<<"${mt_src[k]}")))
	done
	echo "$n"
}

# Checks that the window of command $1 (output file $2) holds exactly its
# expected lines: each must be the next line of one of the sources. Waits
# (10 s at most) until the window holds as many lines as expected. Marks the
# background lines it matched as used.
mt_check() {
	local i=$1 own=$2 want=() got=() pos=() deadline k w line matched ok=1 n
	[[ -z ${mt_expect[i]} ]] || mapfile -t want < <(mt_normalize <<<"${mt_expect[i]}")
	deadline=$((SECONDS + 10))
	mt_window "$i" "$own"
	while (($(mt_window_size) < ${#want[@]} && SECONDS < deadline)); do
		sleep 0.05
		mt_window "$i" "$own"
	done
	for k in "${!mt_src[@]}"; do pos[k]=0; done
	for w in "${want[@]}"; do
		matched=0
		for k in "${!mt_src[@]}"; do
			[[ -n ${mt_src[k]} ]] || continue
			mapfile -t got <<<"${mt_src[k]}"
			((pos[k] < ${#got[@]})) || continue
			line=${got[pos[k]]}
			if mt_match "$line" "$w"; then
				pos[k]=$((pos[k] + 1)) matched=1
				break
			fi
		done
		((matched)) || { ok=0; break; }
	done
	n=$(mt_window_size)
	((n == ${#want[@]})) || ok=0
	if ((!ok)); then
		mt_fail "$i" "not the lines the manual shows (${#want[@]} expected, $n printed)"
		{
			echo "  expected:"
			((${#want[@]} == 0)) || printf '    %s\n' "${want[@]}"
			echo "  got ([0] this command, [n] background job n):"
			for k in "${!mt_src[@]}"; do
				[[ -z ${mt_src[k]} ]] || sed "s/^/    [$k] /" <<<"${mt_src[k]}"
			done
		} >&2
		return 1
	fi
	for k in "${!mt_bg_pids[@]}"; do
		mt_bg_used[k]=$((mt_bg_used[k] + pos[k + 1]))
	done
}

# Starts command $1 in the background and waits (10 s at most) for its
# SUBACK, or for it to end.
mt_start_bg() {
	local mt_bi=$1 mt_bcmd=$2 mt_file mt_j mt_filter=1 mt_deadline
	mt_j=${#mt_bg_pids[@]}
	mt_file=$mt_dir/manual-bg-$mt_j.out
	[[ $mt_bcmd =~ (^|[[:space:]])-d([[:space:]]|$) ]] && mt_filter=0
	: >"$mt_file"
	(
		mt_bg=1
		eval "$mt_bcmd"
	) >"$mt_file" 2>&1 </dev/null &
	mt_bg_pids+=($!) mt_bg_files+=("$mt_file") mt_bg_used+=(0) mt_bg_filter+=("$mt_filter") mt_bg_at+=("$mt_bi")
	mt_deadline=$((SECONDS + 10))
	until grep -Eq '^Subscribed \(mid: ' "$mt_file" || ! kill -0 "${mt_bg_pids[mt_j]}" 2>/dev/null; do
		((SECONDS < mt_deadline)) || { mt_fail "$mt_bi" "no SUBACK within 10 s"; return 1; }
		sleep 0.05
	done
}

# At the end of a section: every background job has ended (10 s at most)
# and all it printed was matched.
mt_end_section() {
	local j i left deadline
	for j in "${!mt_bg_pids[@]}"; do
		i=${mt_bg_at[j]}
		deadline=$((SECONDS + 10))
		while kill -0 "${mt_bg_pids[j]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
		if kill -0 "${mt_bg_pids[j]}" 2>/dev/null; then
			mt_fail "$i" "the background command has not ended by the end of its section"
			kill "${mt_bg_pids[j]}" 2>/dev/null
		fi
		wait "${mt_bg_pids[j]}" 2>/dev/null
		left=$(mt_new_lines "${mt_bg_files[j]}" "${mt_bg_used[j]}" "${mt_bg_filter[j]}")
		if [[ -n $left ]]; then
			mt_fail "$i" "the background command printed lines no command expects:"
			sed 's/^/    /' <<<"$left" >&2
		fi
	done
	mt_bg_pids=() mt_bg_files=() mt_bg_used=() mt_bg_filter=() mt_bg_at=()
}

# Runs command $1 of the manual, in this shell (its variables and functions
# stay for the next ones; hence the mt_ names here).
mt_run() {
	local mt_ri=$1 mt_cmd mt_out mt_rc
	mt_cmd=${mt_cmds[mt_ri]//-p 1883/-p $mt_port}
	if [[ $mt_cmd =~ ^(.*[^&])\&[[:space:]]*$ ]]; then
		mt_start_bg "$mt_ri" "${BASH_REMATCH[1]}" || return 1
		mt_out=/dev/null
	else
		mt_out=$mt_dir/manual-cmd.out
		eval "$mt_cmd" >"$mt_out" 2>&1 </dev/null
		mt_rc=$?
		((mt_rc != 124)) || { mt_fail "$mt_ri" "timed out"; return 1; }
	fi
	mt_check "$mt_ri" "$mt_out"
}

mt_cleanup() {
	local pid
	for pid in "${mt_bg_pids[@]}"; do kill "$pid" 2>/dev/null; done
	CHAT_DEMO_DIR=$mt_dir "$mt_repo/scripts/demo" stop >/dev/null 2>&1
}

# --- main ----------------------------------------------------------------

mt_parse
((${#mt_cmds[@]} > 0)) || { echo "no commands found in $mt_doc" >&2; exit 1; }
trap mt_cleanup EXIT
trap 'exit 1' INT TERM
mkdir -p "$mt_dir"
rm -f "$mt_dir"/manual-*.out
CHAT_DEMO_DIR=$mt_dir CHAT_DEMO_BUILD=$mt_build CHAT_DEMO_PORT=$((20000 + RANDOM % 10000)) \
	"$mt_repo/scripts/demo" >"$mt_dir/manual-demo.out" 2>&1 ||
	{ cat "$mt_dir/manual-demo.out" >&2; echo "the demo did not start" >&2; exit 1; }
mt_port=$(sed -n 's/.*demo is running (broker 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$mt_dir/manual-demo.out")
[[ -n $mt_port ]] || { cat "$mt_dir/manual-demo.out" >&2; echo "no port in the demo's banner" >&2; exit 1; }
cd "$mt_dir" || exit 1

mt_section=${mt_sections[0]}
for mt_i in "${!mt_cmds[@]}"; do
	if [[ ${mt_sections[mt_i]} != "$mt_section" ]]; then
		mt_end_section
		mt_section=${mt_sections[mt_i]}
	fi
	mt_run "$mt_i" || break
done
mt_end_section
trap - EXIT
mt_cleanup
if ((mt_failed)); then
	echo "topics.md: failed (demo logs in $mt_dir)" >&2
	exit 1
fi
echo "topics.md: ${#mt_cmds[@]} commands as written, demo started and stopped, in $((SECONDS - mt_started)) s"
