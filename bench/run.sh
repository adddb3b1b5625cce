#!/usr/bin/env bash
# Times gantry beside crane and skopeo on the same image in a local
# distribution registry, and prints medians and the ratio to crane.
#
#   bench/run.sh            # RUNS=5 by default
#
# Needs: docker-registry (Debian), skopeo (Debian), crane
# (go install github.com/google/go-containerregistry/cmd/crane@latest).
# The image is three layers made from the Go distribution on this machine
# (/usr/local/go/{src,pkg,bin}: about 240 MB of real files).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
export PATH="$PATH:$(go env GOPATH)/bin"
command -v crane >/dev/null || go install github.com/google/go-containerregistry/cmd/crane@latest
for tool in crane skopeo docker-registry; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/gantry" ./cmd/gantry
gantry="$work/gantry"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_registry() { # name → sets host to host:port (no subshell: pids must stick)
	local port dir
	port=$(free_port)
	dir="$work/$1"
	mkdir -p "$dir/data"
	cat >"$dir/config.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YAML
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
	host="127.0.0.1:$port"
}
start_registry src
src=$host
# One destination registry per tool, so that no tool pushes into storage
# that another tool's runs already warmed.
start_registry dst-gantry
dst_gantry=$host
start_registry dst-crane
dst_crane=$host
start_registry dst-skopeo
dst_skopeo=$host

echo "bench: building the test image in $src"
layers=()
for d in src pkg bin; do
	tar -C /usr/local/go --sort=name --owner=0 --group=0 --mtime=@0 -cf "$work/$d.tar" "$d"
	layers+=(-f "$work/$d.tar")
done
crane append --insecure "${layers[@]}" -t "$src/bench/go:1" >/dev/null 2>&1
size=$(crane manifest --insecure "$src/bench/go:1" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(sum(l["size"] for l in m["layers"])//1000000)')
echo "bench: image $src/bench/go:1, ${size} MB compressed in 3 layers; $RUNS runs each, medians"

# time_ms CMD... → milliseconds of one run
time_ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

declare -A result
measure() { # key prepare-fn run-fn
	local key=$1 prep=$2 run=$3 i times=()
	for i in $(seq "$RUNS"); do
		$prep "$i"
		times+=("$(time_ms $run "$i")")
	done
	result[$key]=$(printf '%s\n' "${times[@]}" | median)
	printf '  %-34s %6d ms\n' "$key" "${result[$key]}"
}

fresh() { rm -rf "$work/store" "$work/out.tar"; mkdir -p "$work/store"; }
g() { "$gantry" --root "$work/store" --progress quiet "$@"; }

echo "pull into a store/archive:"
pull_gantry() { g pull "$src/bench/go:1" && g save "$src/bench/go:1" -o "$work/out.tar"; }
pull_gantry_compressed() { g pull "$src/bench/go:1" && g save --compressed-layers "$src/bench/go:1" -o "$work/out.tar"; }
# One step: save pulls what the store lacks and writes the archive while
# the layers arrive.
save_gantry_pulling() { g save "$src/bench/go:1" -o "$work/out.tar"; }
save_gantry_pulling_compressed() { g save --compressed-layers "$src/bench/go:1" -o "$work/out.tar"; }
pull_crane() { crane pull --insecure "$src/bench/go:1" "$work/out.tar"; }
pull_skopeo() { skopeo copy -q --src-tls-verify=false "docker://$src/bench/go:1" "docker-archive:$work/out.tar:bench/go:1"; }
pull_gantry_store_only() { g pull "$src/bench/go:1"; }
measure "gantry pull + save" fresh pull_gantry
measure "gantry pull + save --compressed-layers" fresh pull_gantry_compressed
measure "gantry save (pulling)" fresh save_gantry_pulling
measure "gantry save --compressed-layers (pulling)" fresh save_gantry_pulling_compressed
measure "crane pull (tarball)" fresh pull_crane
measure "skopeo copy to docker-archive" fresh pull_skopeo
measure "gantry pull (store only)" fresh pull_gantry_store_only
noop() { :; }
measure "gantry pull, already stored" noop pull_gantry_store_only

echo "push a stored image to another registry:"
fresh
g pull "$src/bench/go:1" >/dev/null
g save "$src/bench/go:1" -o "$work/saved.tar" >/dev/null
mkdir -p "$work/oci" && skopeo copy -q --src-tls-verify=false "docker://$src/bench/go:1" "oci:$work/oci:go" >/dev/null
push_gantry() { g push "$src/bench/go:1" "$dst_gantry/gantry/go$1:1"; }
push_crane() { crane push --insecure "$work/saved.tar" "$dst_crane/crane/go$1:1"; }
push_crane_layout() { crane push --insecure "$work/oci" "$dst_crane/cranel/go$1:1"; }
# skopeo's blob-info cache remembers blobs it pushed and mounts them into
# the next repository: only its first run uploads.
push_skopeo() { skopeo copy -q --dest-tls-verify=false "oci:$work/oci:go" "docker://$dst_skopeo/skopeo/go$1:1"; }
measure "gantry push (from store)" noop push_gantry
measure "crane push (docker tarball)" noop push_crane
measure "crane push (OCI layout)" noop push_crane_layout
measure "skopeo copy oci: -> registry" noop push_skopeo
push_gantry_mount() { g push "$src/bench/go:1" "$src/mount/go$1:1"; }
measure "gantry push, same registry (mount)" noop push_gantry_mount

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo
echo "ratios to crane (lower is better for gantry):"
echo "  pull+save / crane pull:           $(ratio "${result[gantry pull + save]}" "${result[crane pull (tarball)]}")"
echo "  pull+save --compressed-layers:    $(ratio "${result[gantry pull + save --compressed-layers]}" "${result[crane pull (tarball)]}")"
echo "  save (pulling) / crane pull:      $(ratio "${result[gantry save (pulling)]}" "${result[crane pull (tarball)]}")"
echo "  save --compressed-layers (pulling): $(ratio "${result[gantry save --compressed-layers (pulling)]}" "${result[crane pull (tarball)]}")"
echo "  pull (store only) / crane pull:   $(ratio "${result[gantry pull (store only)]}" "${result[crane pull (tarball)]}")"
echo "  push / crane push (OCI layout):   $(ratio "${result[gantry push (from store)]}" "${result[crane push (OCI layout)]}")"
