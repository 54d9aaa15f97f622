#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fails when project C code calls a banned function (CONVENTIONS.md):
# strcpy, strcat, sprintf, vsprintf, strtok, atoi, atol, gets.
set -euo pipefail
root=${1:?usage: banned-calls.sh REPO}
hits=$(grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets)[[:space:]]*\(' \
	--include='*.c' --include='*.h' "$root/common" "$root/plugin" "$root/bridge" "$root/bench" "$root/tests" || true)
if [[ -n $hits ]]; then
	echo "banned calls found:"
	echo "$hits"
	exit 1
fi
echo "no banned calls"
