#!/usr/bin/env bash
# vs.sh RUNS COMMAND_A COMMAND_B: times two commands in turn (A B A B …,
# one warm-up pair first, not counted), each run's wall time from the
# command's start to its exit, and prints min, median and max of A, of B
# and of the ratio A/B taken pair by pair (pairing keeps the ratio
# meaningful when the machine's speed drifts). Quote the medians.
# The commands are run by sh -c; their output is thrown away.
# VS_SETUP_A / VS_SETUP_B: a shell command run before each run of A / B,
# not timed (a cold run's cache deletion and page-cache drop).
set -euo pipefail
runs=${1:?usage: vs.sh RUNS COMMAND_A COMMAND_B}
a=${2:?usage: vs.sh RUNS COMMAND_A COMMAND_B}
b=${3:?usage: vs.sh RUNS COMMAND_A COMMAND_B}

wall() { # wall seconds of one run of the shell command $1, after setup $2
	local start end
	[ -z "${2:-}" ] || sh -c "$2" >/dev/null 2>&1 || echo "vs.sh: setup exit $? from: $2" >&2
	start=$(date +%s%N)
	sh -c "$1" >/dev/null 2>&1 || echo "vs.sh: exit $? from: $1" >&2
	end=$(date +%s%N)
	echo "$(((end - start) / 1000000))"
}

wall "$a" "${VS_SETUP_A:-}" >/dev/null
wall "$b" "${VS_SETUP_B:-}" >/dev/null
ta=() tb=()
for _ in $(seq "$runs"); do
	ta+=("$(wall "$a" "${VS_SETUP_A:-}")")
	tb+=("$(wall "$b" "${VS_SETUP_B:-}")")
done
# min, median, max of milliseconds (or of ratios): one line.
stats() { sort -g | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%10.3f %10.3f %10.3f\n", v[1], m, v[NR]}'; }
printf '%-10s %10s %10s %10s\n' "" min median max
printf '%-10s ' "A wall s"; printf '%s\n' "${ta[@]}" | awk '{print $1/1000}' | stats
printf '%-10s ' "B wall s"; printf '%s\n' "${tb[@]}" | awk '{print $1/1000}' | stats
printf '%-10s ' "A/B wall"; for i in "${!ta[@]}"; do echo "${ta[$i]} ${tb[$i]}"; done | awk '{print $1/$2}' | stats
