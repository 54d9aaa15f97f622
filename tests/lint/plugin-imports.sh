#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fails when mosquitto_chat.so imports a mosquitto_* name that an upstream
# 2.0.x broker does not export (mosquitto-2.0-exports.txt) and that is not
# one of the few the plugin takes from libmosquitto on purpose (below, each
# checked to be defined by the libmosquitto the plugin links). Debian's
# broker exports every name, so only this test catches such an import
# before an operator's upstream build refuses to load the plugin.
set -euo pipefail
plugin=${1:?usage: plugin-imports.sh PLUGIN.so}
here=$(cd "$(dirname "$0")" && pwd)

# From libmosquitto (plugin/props.c says why): the property readers and
# mosquitto_strerror, absent from 2.0.x's plugin exports.
from_lib=(mosquitto_property_read_binary mosquitto_property_read_string
	mosquitto_property_read_string_pair mosquitto_strerror)

lib=$(ldd "$plugin" | awk '/libmosquitto\.so/ {print $3}')
[[ -n $lib ]] || { echo "the plugin does not link libmosquitto"; exit 1; }
lib_defs=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//')
for name in "${from_lib[@]}"; do
	grep -qx "$name" <<<"$lib_defs" || { echo "$lib does not define $name"; exit 1; }
done

bad=()
while read -r name; do
	grep -qx "$name" "$here/mosquitto-2.0-exports.txt" && continue
	printf '%s\n' "${from_lib[@]}" | grep -qx "$name" && continue
	bad+=("$name")
done < <(nm -D --undefined-only "$plugin" | awk '{print $2}' | sed 's/@.*//' | grep '^mosquitto_' | sort -u)
if [[ ${#bad[@]} -gt 0 ]]; then
	echo "imports that an upstream 2.0.x broker does not export: ${bad[*]}"
	exit 1
fi
echo "every mosquitto_* import is exported by 2.0.x or taken from $lib"
