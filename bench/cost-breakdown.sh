#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/cost-breakdown.sh: where the plugin's instructions per message go,
# from the callgrind dumps that `CHAT_BENCH_KEEP=1 scripts/bench cost`
# leaves in its work directory (cost-en/ and cost-ko/, each with
# bare.callgrind.{1,2} and plugin.callgrind.{1,2}).
#
# Each function's own (exclusive) count is taken from dump 2 minus dump 1
# (the 750 messages between them), the bare broker's is subtracted, and the
# rest is grouped by the source file the code came from. Callgrind names
# inlined code after its own file, so the groups hold with link-time
# optimisation too, where inclusive counts of small functions would not
# exist. The groups add up to the plugin broker's total minus the bare's.
#
#   bench/cost-breakdown.sh WORK_DIR
#
# Prints one markdown table, English and Korean side by side.
set -euo pipefail

work=${1:?usage: bench/cost-breakdown.sh WORK_DIR (from CHAT_BENCH_KEEP=1 scripts/bench cost)}
command -v callgrind_annotate >/dev/null || { echo "callgrind_annotate is missing (valgrind)" >&2; exit 1; }
messages=750

# "function<TAB>count" of dump $1, own counts, sorted by name.
own_counts() {
	callgrind_annotate --auto=no --inclusive=no --threshold=100 "$1" 2>/dev/null | awk '
		/^-+$/ { rule++; next }
		rule >= 2 && NF >= 2 && $1 ~ /^[0-9,]+$/ {
			n = $1; gsub(",", "", n); $1 = ""
			gsub(/\( *[0-9.]+%\)/, ""); sub(/^ +/, ""); sub(/ +$/, "")
			print $0 "\t" n
		}' | sort -t $'\t' -k1,1
}

# "function<TAB>per message" for broker $2 ("bare" or "plugin") in dir $1.
per_message() {
	join -t $'\t' -a 2 -e 0 -o 0,1.2,2.2 <(own_counts "$1/$2.callgrind.1") <(own_counts "$1/$2.callgrind.2") |
		awk -F'\t' -v m="$messages" '{ print $1 "\t" ($3 - $2) / m }'
}

# Group sums of plugin minus bare for dir $1: "group<TAB>instructions".
groups() {
	join -t $'\t' -a 1 -a 2 -e 0 -o 0,1.2,2.2 <(per_message "$1" plugin) <(per_message "$1" bare) | awk -F'\t' '
	{
		d = $2 - $3; k = $1
		if (k ~ /PROGRAM TOTALS/) { total = d; next }
		sub(/ \[.*$/, "", k)
		n = split(k, part, ":"); file = part[1]; fn = part[n]
		g = "the broker and libc"
		if (file ~ /wordfilter|normalize|disguise/ || fn ~ /^(fast_|scan_global|words_scan|data_scan)/) g = "word filter"
		else if (file ~ /common\/(json|envelope|strbuf|id|utf8)/) g = "JSON in, envelope out"
		else if (file ~ /intrin\.h$/) g = "JSON in, envelope out"
		else if (file ~ /moderation|flood|ratelimit|slowmode/ || fn ~ /verdict/) g = "flood control and verdict"
		else if (file ~ /acl\.c|rooms\.|topic\.|sanctions|sessions|identity|peer|oatable/) g = "rooms, ACL, sessions"
		else if (fn ~ /tick|chat_now_ms/ || file ~ /plugin\/plugin\.c/) g = "ticks and the clock"
		else if (file ~ /edit\.c|mentions|messenger|change_rule/) g = "messenger record"
		else if (file ~ /plugin\//) g = "the message callback, the rest"
		sum[g] += d
	}
	END {
		for (g in sum) printf "%s\t%.0f\n", g, sum[g]
		printf "plugin minus bare\t%.0f\n", total
	}' | sort -t $'\t' -k1,1
}

en=$(groups "$work/cost-en")
ko=$(groups "$work/cost-ko")
echo "| plugin minus bare, per message | English | Korean |"
echo "|---|---:|---:|"
join -t $'\t' <(echo "$en") <(echo "$ko") | sort -t $'\t' -k2,2nr | awk -F'\t' '
	$1 == "plugin minus bare" { total = sprintf("| **%s** | **%s** | **%s** |", $1, $2, $3); next }
	{ printf "| %s | %s | %s |\n", $1, $2, $3 }
	END { print total }'
