#!/usr/bin/env bash
# Times a Dockerfile build (COPY a 156 MB tree, RUN over it) with gantry
# beside docker build (BuildKit) and, when installed, buildah bud (vfs,
# chroot isolation, --layers): cold, again with nothing changed, and again
# with one copied file changed. All start with the base already stored.
#
#   DOCKER_HOST=unix:///path/docker.sock BASE=127.0.0.1:5000/busybox:1 bench/dockerfile.sh
#
# BASE must be an image with /bin/sh in a registry both can reach.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
: "${BASE:?set BASE to a base image with /bin/sh}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/gantry" ./cmd/gantry
mkdir -p "$work/ctx"
cp -r /usr/local/go/src "$work/ctx/src"
cat >"$work/ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
COPY src /src
RUN find /src -type f | wc -l > /count && cat /src/go/build/build.go | wc -c >> /count
DOCKERFILE
"$work/gantry" --root "$work/store" -q pull "$BASE" >/dev/null
DOCKER_BUILDKIT=1 /usr/bin/docker pull -q "$BASE" >/dev/null

time_ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
gantry_build() { "$work/gantry" --root "$work/store" --progress quiet build "$work/ctx" -t bench/df:1; }
docker_build() { DOCKER_BUILDKIT=1 /usr/bin/docker build -q --network none -t bench-df:1 "$work/ctx"; }
touch_one() { echo "// $RANDOM$RANDOM" >>"$work/ctx/src/go/build/build.go"; }
bah() { buildah --root "$work/buildah" --runroot "$work/buildah-run" --storage-driver vfs "$@"; }
buildah_build() { bah bud --isolation chroot --layers --tls-verify=false -q -t bench-bud:1 "$work/ctx"; }
tools="gantry docker"
if command -v buildah >/dev/null; then tools="$tools buildah"; fi

# Cold means cold for every tool: after deleting its caches, the page cache
# is dropped too. On ext4 here, creating files right after deleting a tree of
# them costs up to five times more until the kernel's caches are dropped,
# which made cold runs depend on what ran before them.
drop_caches() { sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 3 >/proc/sys/vm/drop_caches; fi; }

declare -A r
for tool in $tools; do
	cold=() same=() one=()
	for i in $(seq "$RUNS"); do
		if [ $tool = gantry ]; then
			rm -rf "$work/store/cache" # cold: no step, layer or rootfs cache (the base stays)
			drop_caches
			cold+=("$(time_ms gantry_build)"); same+=("$(time_ms gantry_build)"); touch_one; one+=("$(time_ms gantry_build)")
		elif [ $tool = docker ]; then
			/usr/bin/docker builder prune -af >/dev/null 2>&1 || true
			drop_caches
			cold+=("$(time_ms docker_build)"); same+=("$(time_ms docker_build)"); touch_one; one+=("$(time_ms docker_build)")
		else
			rm -rf "$work/buildah" "$work/buildah-run"
			bah pull -q --tls-verify=false "$BASE" >/dev/null
			drop_caches
			cold+=("$(time_ms buildah_build)"); same+=("$(time_ms buildah_build)"); touch_one; one+=("$(time_ms buildah_build)")
		fi
	done
	r[$tool-cold]=$(printf '%s\n' "${cold[@]}" | median)
	r[$tool-same]=$(printf '%s\n' "${same[@]}" | median)
	r[$tool-one]=$(printf '%s\n' "${one[@]}" | median)
done
printf '%-10s' ""; for tool in $tools; do printf '%12s' "$tool"; done; printf '%18s\n' "gantry/fastest"
for k in cold same one; do
	printf '%-10s' "$k"
	best=""
	for tool in $tools; do
		printf '%9d ms' "${r[$tool-$k]}"
		if [ $tool != gantry ] && { [ -z "$best" ] || [ "${r[$tool-$k]}" -lt "$best" ]; }; then best=${r[$tool-$k]}; fi
	done
	awk -v a="${r[gantry-$k]}" -v b="$best" 'BEGIN {printf "%18.2f\n", a/b}'
done

# Sandbox start-up: ten trivial RUN steps without the cache, from the start
# of each sandbox to its stored layer.
mkdir -p "$work/runs"
{ echo "FROM $BASE"; for i in $(seq 10); do echo "RUN echo $i > /f$i"; done; } >"$work/runs/Dockerfile"
gantry_runs() { "$work/gantry" --root "$work/store" --progress quiet build --no-cache "$work/runs" -t bench/runs:1; }
docker_runs() { DOCKER_BUILDKIT=1 /usr/bin/docker build -q --no-cache --network none -t bench-runs:1 "$work/runs"; }
for tool in gantry docker; do
	t=()
	for i in $(seq "$RUNS"); do t+=("$(time_ms ${tool}_runs)"); done
	m=$(printf '%s\n' "${t[@]}" | median)
	printf 'ten RUN steps, %-7s %6d ms (%d ms per step)\n' "$tool" "$m" $((m / 10))
done
