# Shared by the bench scripts (sourced, with $work and $RUNS set): a script
# that drops the page cache, and vs, which times two shell commands in
# alternation with bench/vs.sh.

cat >"$work/drop" <<'DROP'
#!/bin/sh
sync
[ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches
exit 0
DROP
chmod +x "$work/drop"
mkdir -p "$work/cmd"
n=0
vs() { # label, gantry shell command, peer shell command: each run as a script
	n=$((n + 1))
	printf '#!/bin/sh\n%s\n' "$2" >"$work/cmd/$n-a" && printf '#!/bin/sh\n%s\n' "$3" >"$work/cmd/$n-b"
	chmod +x "$work/cmd/$n-a" "$work/cmd/$n-b"
	echo "== $1"
	VS_SETUP_A=${setup_a:-} VS_SETUP_B=${setup_b:-} bench/vs.sh "$RUNS" "$work/cmd/$n-a" "$work/cmd/$n-b"
}
# cold SETUP_A SETUP_B LABEL A B: vs with each tool's cold setup run before
# every timed run and not timed (its caches deleted, the page cache dropped).
cold() {
	local setup_a=$1 setup_b=$2
	shift 2
	vs "$@"
}
