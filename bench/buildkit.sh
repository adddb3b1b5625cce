#!/usr/bin/env bash
# gantry beside the current BuildKit (buildkitd v0.34.x through buildctl, the
# reference of the e2e suite) on the workloads of issue 15, each pair timed
# with bench/vs.sh (alternating runs, ratio pair by pair, medians).
#
#   BUILDKIT_HOST=unix:///…/buildkitd.sock REG=127.0.0.1:5000 BASE=127.0.0.1:5000/e2e/busybox:amd64 bench/buildkit.sh [WORKLOAD…]
#
# Workloads: tree (COPY the Go source tree, 156 MB, + RUN: cold, unchanged,
# one file changed), small (40,000 small files, node_modules-shaped: the
# same three), stages (two independent stages that each sleep 3 s, joined
# by COPY --from), runs (ten trivial RUN steps, no cache), seed (a base from
# the registry + the Go source tree as one layer, pushed: gantry build --from
# vs crane append with a ready tar, cold and unchanged).
# Before each cold run, not timed, each tool's caches are deleted and the
# page cache is dropped, the same for both tools (BuildKit: buildctl prune
# --all; gantry: its caches and built images; the base stays stored for
# both): the timed run is the build alone, from nothing cached. (Until Dec
# 2026 the deletion was timed too; on this VM's ext4, deleting the 40,000
# files of the last run took longer than gantry's build.)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BUILDKIT_HOST:?set BUILDKIT_HOST to a running buildkitd}" "${REG:?set REG to a registry}" "${BASE:?set BASE to a base image with /bin/sh}"
RUNS=${RUNS:-3}
work=${WORK:-$(mktemp -d /var/tmp/gantry-bench.XXXXXX)}
go build -o "$work/gantry" ./cmd/gantry
export GANTRY_ROOT=$work/store
g() { "$work/gantry" --progress quiet "$@"; }
g pull "$BASE" >/dev/null

cat >"$work/gantry-clean" <<EOF
#!/bin/sh
rm -rf "$work/store/cache" && "$work/gantry" --progress quiet prune >/dev/null && exec "$work/drop"
EOF
cat >"$work/bk-build" <<EOF
#!/bin/sh
# buildctl build DIR [extra…]: the Dockerfile in DIR, the image kept by buildkitd
dir=\$1; shift
exec buildctl build --frontend dockerfile.v0 --local context="\$dir" --local dockerfile="\$dir" \
	--opt build-arg:BASE=$BASE --output type=image,name=bench/bk:1 "\$@" >/dev/null 2>&1
EOF
cat >"$work/bk-clean" <<EOF
#!/bin/sh
buildctl prune --all >/dev/null 2>&1; exec "$work/drop"
EOF
chmod +x "$work/gantry-clean" "$work/bk-build" "$work/bk-clean"
. bench/lib.sh

tree() {
	mkdir -p "$work/tree" && rm -rf "$work/tree/src" && cp -r /usr/local/go/src "$work/tree/src"
	printf 'ARG BASE\nFROM $BASE\nCOPY src /src\nRUN find /src -type f | wc -l > /count\n' >"$work/tree/Dockerfile"
	cold "$work/gantry-clean" "$work/bk-clean" "tree, cold" \
		"$work/gantry --progress quiet build $work/tree --build-arg BASE=$BASE -t bench/tree:1" "$work/bk-build $work/tree"
	vs "tree, unchanged" "$work/gantry --progress quiet build $work/tree --build-arg BASE=$BASE -t bench/tree:1" "$work/bk-build $work/tree"
	vs "tree, one file changed" "echo // \$\$ >>$work/tree/src/go/build/build.go && exec $work/gantry --progress quiet build $work/tree --build-arg BASE=$BASE -t bench/tree:1" \
		"echo // \$\$ >>$work/tree/src/go/build/build.go && exec $work/bk-build $work/tree"
}

small() {
	if [ ! -d "$work/small/node_modules" ]; then
		mkdir -p "$work/small"
		# 40,000 files of 0.1–4 KiB in 2,000 packages of 20, 3 levels deep.
		python3 - "$work/small/node_modules" <<'PY'
import os, random, sys
random.seed(1)
root = sys.argv[1]
for p in range(2000):
    d = os.path.join(root, "pkg%04d" % p, "lib", "sub")
    os.makedirs(d)
    for f in range(20):
        with open(os.path.join(d if f % 2 else os.path.dirname(d), "f%02d.js" % f), "w") as out:
            out.write("x" * random.randint(100, 4096))
PY
	fi
	printf 'ARG BASE\nFROM $BASE\nCOPY node_modules /app/node_modules\nRUN find /app -type f | wc -l > /count\n' >"$work/small/Dockerfile"
	cold "$work/gantry-clean" "$work/bk-clean" "small files, cold" \
		"$work/gantry --progress quiet build $work/small --build-arg BASE=$BASE -t bench/small:1" "$work/bk-build $work/small"
	vs "small files, unchanged" "$work/gantry --progress quiet build $work/small --build-arg BASE=$BASE -t bench/small:1" "$work/bk-build $work/small"
	vs "small files, one file changed" "echo x >>$work/small/node_modules/pkg0001/lib/f00.js && exec $work/gantry --progress quiet build $work/small --build-arg BASE=$BASE -t bench/small:1" \
		"echo x >>$work/small/node_modules/pkg0001/lib/f00.js && exec $work/bk-build $work/small"
}

stages() {
	mkdir -p "$work/stages"
	printf 'ARG BASE\nFROM $BASE AS a\nRUN sleep 3 && echo a > /a\nFROM $BASE AS b\nRUN sleep 3 && echo b > /b\nFROM $BASE\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n' >"$work/stages/Dockerfile"
	vs "two independent stages (3 s each), no cache" "$work/gantry --progress quiet build --no-cache $work/stages --build-arg BASE=$BASE -t bench/stages:1" \
		"$work/bk-build $work/stages --no-cache"
}

runs() {
	mkdir -p "$work/runs"
	{ echo 'ARG BASE'; echo 'FROM $BASE'; for i in $(seq 10); do echo "RUN echo $i > /f$i"; done; } >"$work/runs/Dockerfile"
	vs "ten trivial RUN steps, no cache" "$work/gantry --progress quiet build --no-cache $work/runs --build-arg BASE=$BASE -t bench/runs:1" \
		"$work/bk-build $work/runs --no-cache"
}

seed() {
	# The seed's job: base + folder as one layer + entrypoint, pushed. crane
	# gets the layer as a ready-made tar, as issue 15 measures it (crane
	# compresses it, on one core), and as a ready tar.gz (crane's best case:
	# it only hashes and decompresses it to learn the diff ID).
	mkdir -p "$work/seed" && rm -rf "$work/seed/src" && cp -r /usr/local/go/src "$work/seed/src"
	tar -C "$work/seed" -cf "$work/seed/src.tar" src
	gzip -c "$work/seed/src.tar" >"$work/seed/src.tar.gz"
	for ext in tar tar.gz; do
		cat >"$work/crane-$ext" <<EOF
#!/bin/sh
set -e
crane append --insecure -b $BASE -f $work/seed/src.$ext -t $REG/bench/seed-crane-$ext:1 >/dev/null
exec crane mutate --insecure --entrypoint /bin/sh $REG/bench/seed-crane-$ext:1 >/dev/null
EOF
		chmod +x "$work/crane-$ext"
	done
	job="$work/gantry --root $work/store-seed --progress quiet --insecure build --from $BASE --add $work/seed/src:/src --entrypoint /bin/sh -t $REG/bench/seed-gantry:1 --push"
	# Cold: gantry's store deleted before each run (not timed); page cache
	# warm for both: crane's tar is as warm as the folder.
	cold "rm -rf $work/store-seed" "" "seed job, empty store, vs crane append of a ready tar" "$job" "$work/crane-tar"
	cold "rm -rf $work/store-seed" "" "seed job, empty store, vs crane append of a ready tar.gz" "$job" "$work/crane-tar.gz"
	vs "seed job, unchanged, vs crane append of a ready tar" "$job" "$work/crane-tar"
	vs "seed job, unchanged, vs crane append of a ready tar.gz" "$job" "$work/crane-tar.gz"
}

for w in "${@:-tree small stages runs seed}"; do $w; done
echo "work folder: $work (remove it when done)"
