#!/usr/bin/env bash
# Times a Dockerfile build (COPY a 156 MB tree, RUN over it) with gantry
# beside docker build (BuildKit): cold, again with nothing changed, and again
# with one copied file changed. Both start with the base already stored.
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

declare -A r
for tool in gantry docker; do
	cold=() same=() one=()
	for i in $(seq "$RUNS"); do
		if [ $tool = gantry ]; then
			rm -rf "$work/store/cache" # cold: no step, layer or rootfs cache (the base stays)
			cold+=("$(time_ms gantry_build)"); same+=("$(time_ms gantry_build)"); touch_one; one+=("$(time_ms gantry_build)")
		else
			/usr/bin/docker builder prune -af >/dev/null 2>&1 || true
			cold+=("$(time_ms docker_build)"); same+=("$(time_ms docker_build)"); touch_one; one+=("$(time_ms docker_build)")
		fi
	done
	r[$tool-cold]=$(printf '%s\n' "${cold[@]}" | median)
	r[$tool-same]=$(printf '%s\n' "${same[@]}" | median)
	r[$tool-one]=$(printf '%s\n' "${one[@]}" | median)
done
printf '%-28s %10s %10s %7s\n' "" gantry docker ratio
for k in cold same one; do
	printf '%-28s %8d ms %8d ms %7s\n' "$k" "${r[gantry-$k]}" "${r[docker-$k]}" "$(awk -v a="${r[gantry-$k]}" -v b="${r[docker-$k]}" 'BEGIN {printf "%.2f", a/b}')"
done
