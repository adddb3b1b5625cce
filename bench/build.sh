#!/usr/bin/env bash
# Times a Dockerfile-free build-and-push: gantry build beside crane append +
# crane mutate doing the same (base + a 150 MB source folder as one layer +
# an entrypoint), cold and again with nothing changed; and gantry's peak
# memory while pushing a 1 GB layer.
#
#   bench/build.sh          # RUNS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
export PATH="$PATH:$(go env GOPATH)/bin"
command -v crane >/dev/null || go install github.com/google/go-containerregistry/cmd/crane@latest

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/gantry" ./cmd/gantry

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
pids+=($!)
reg="127.0.0.1:$port"
for _ in $(seq 50); do curl -fs "http://$reg/v2/" >/dev/null && break; sleep 0.1; done

# The base: the Go toolchain's bin/ as one layer (about 18 MB).
tar -C /usr/local/go --sort=name --owner=0 --group=0 --mtime=@0 -cf "$work/base.tar" bin
crane append --insecure -f "$work/base.tar" -t "$reg/bench/base:1" >/dev/null 2>&1
# The application: a copy of the Go source tree.
cp -r /usr/local/go/src "$work/app"
echo "bench: base $reg/bench/base:1, app folder $(du -sh "$work/app" | cut -f1); $RUNS runs, medians"

time_ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
declare -A result
measure() {
	local key=$1 run=$2 i times=()
	for i in $(seq "$RUNS"); do times+=("$(time_ms $run "$i")"); done
	result[$key]=$(printf '%s\n' "${times[@]}" | median)
	printf '  %-36s %6d ms\n' "$key" "${result[$key]}"
}

gantry_cold() {
	rm -rf "$work/store"
	"$work/gantry" --root "$work/store" --progress quiet build --from "$reg/bench/base:1" --add "$work/app:/src/" \
		--entrypoint '["/bin/go"]' -t "$reg/gantry/app$1:1" --push
}
# The same build again, to the same name: nothing changed.
gantry_warm() {
	"$work/gantry" --root "$work/store" --progress quiet build --from "$reg/bench/base:1" --add "$work/app:/src/" \
		--entrypoint '["/bin/go"]' -t "$reg/gantry/app$RUNS:1" --push
}
crane_build() {
	tar -C "$work/app" --transform 's,^\.,src,' -cf "$work/app.tar" . &&
		crane append --insecure -b "$reg/bench/base:1" -f "$work/app.tar" -t "$reg/crane/app$1:1" &&
		crane mutate --insecure --entrypoint /bin/go "$reg/crane/app$1:1"
}
measure "gantry build + push, cold store" gantry_cold
measure "gantry build + push, nothing changed" gantry_warm
measure "crane append + mutate (+ tar)" crane_build
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "  cold / crane:      $(ratio "${result[gantry build + push, cold store]}" "${result[crane append + mutate (+ tar)]}")"
echo "  unchanged / crane: $(ratio "${result[gantry build + push, nothing changed]}" "${result[crane append + mutate (+ tar)]}")"

# Peak memory while pushing a 1 GB layer (incompressible data).
mkdir -p "$work/big"
head -c 1G /dev/urandom >"$work/big/blob"
rm -rf "$work/store"
peak=$( { /usr/bin/time -f '%M' "$work/gantry" --root "$work/store" --progress quiet build --from scratch --add "$work/big:/big/" \
	-t "$reg/gantry/big:1" --push >/dev/null; } 2>&1 | tail -1)
echo "  peak RSS building and pushing a 1 GB layer: $((peak / 1024)) MB"
