#!/usr/bin/env bash
# gantry beside the current BuildKit (buildkitd v0.34.x through buildctl, the
# reference of the e2e suite) and, with PEERS="buildkit buildah", beside
# buildah too (overlay driver, chroot isolation, --layers, its own store
# under the work folder) on the workloads of issue 15, each pair timed with
# bench/vs.sh (alternating runs, ratio pair by pair, medians).
#
#   BUILDKIT_HOST=unix:///…/buildkitd.sock REG=127.0.0.1:5000 BASE=127.0.0.1:5000/e2e/busybox:amd64 [PEERS="buildkit buildah"] bench/buildkit.sh [WORKLOAD…]
#
# Workloads: tree (COPY the Go source tree, 156 MB, + RUN: cold, unchanged,
# one file changed), small (40,000 small files, node_modules-shaped: the
# same three), stages (two independent stages that each sleep 3 s, joined
# by COPY --from), runs (ten trivial RUN steps, no cache), seed (a base from
# the registry + the Go source tree as one layer, pushed: gantry build --from
# vs crane append with a ready tar, cold and unchanged).
# Before each cold run, not timed, each tool's caches are deleted and the
# page cache is dropped, the same for both tools (BuildKit: buildctl prune
# --all; buildah: every image but the base; gantry: its caches and built
# images; the base stays stored for gantry and buildah): the timed run is the build alone, from nothing cached. (Until Dec
# 2026 the deletion was timed too; on this VM's ext4, deleting the 40,000
# files of the last run took longer than gantry's build.)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${REG:?set REG to a registry}" "${BASE:?set BASE to a base image with /bin/sh}"
PEERS=${PEERS:-buildkit}
case " $PEERS " in *" buildkit "*) : "${BUILDKIT_HOST:?set BUILDKIT_HOST to a running buildkitd}" ;; esac
RUNS=${RUNS:-3}
work=${WORK:-$(mktemp -d /var/tmp/gantry-bench.XXXXXX)}
# Built as gantry's image ships it (image/build.sh): static, no symbol
# tables; a program that starts in tens of milliseconds shows it.
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/gantry" ./cmd/gantry
export GANTRY_ROOT=$work/store
g() { "$work/gantry" --progress quiet "$@"; }
g pull "$BASE" >/dev/null

cat >"$work/gantry-clean" <<EOF
#!/bin/sh
rm -rf "$work/store/cache" && "$work/gantry" --progress quiet prune >/dev/null && exec "$work/drop"
EOF
cat >"$work/buildkit-build" <<EOF
#!/bin/sh
# buildctl build DIR [extra…]: the Dockerfile in DIR, the image kept by buildkitd
dir=\$1; shift
exec buildctl build --frontend dockerfile.v0 --local context="\$dir" --local dockerfile="\$dir" \
	--opt build-arg:BASE=$BASE --output type=image,name=bench/bk:1 "\$@" >/dev/null 2>&1
EOF
cat >"$work/buildkit-clean" <<EOF
#!/bin/sh
buildctl prune --all >/dev/null 2>&1; exec "$work/drop"
EOF
# buildah: a store of its own (overlay driver), the Dockerfile's RUN in its
# chroot isolation (no runtime needed; host network, as buildkitd's here),
# every step's image kept (--layers: its step cache), the registry plain
# HTTP; the base pulled once and kept, as gantry's. Its RUN gets the
# shell's hard limits (its default of 1048576 is refused in a container
# whose hard limit is lower). It needs a network backend installed
# (Debian's netavark) even for the host network.
case " $PEERS " in *" buildah "*)
	printf '{"default":[{"type":"insecureAcceptAnything"}]}\n' >"$work/policy.json"
	bh="buildah --root $work/buildah --runroot $work/buildah-run --storage-driver overlay"
	$bh pull -q --tls-verify=false --signature-policy "$work/policy.json" "$BASE" >"$work/buildah-base"
	cat >"$work/buildah-build" <<EOF
#!/bin/sh
# buildah build DIR [extra…]
dir=\$1; shift
exec $bh build --isolation chroot --layers --pull=never --signature-policy $work/policy.json \
	--ulimit nofile=$(ulimit -Hn):$(ulimit -Hn) --ulimit nproc=$(ulimit -Hu):$(ulimit -Hu) --build-arg BASE=$BASE -t bench/bh:1 -q "\$@" "\$dir" >/dev/null 2>&1
EOF
	cat >"$work/buildah-clean" <<EOF
#!/bin/sh
# every image but the base (built ones, and --layers' step images)
$bh images -q --no-trunc | grep -v "\$(cut -c1-12 $work/buildah-base)" | xargs -r $bh rmi -f >/dev/null 2>&1
exec "$work/drop"
EOF
	;;
esac
chmod +x "$work/gantry-clean" "$work"/*-build "$work"/*-clean
. bench/lib.sh

tree() {
	mkdir -p "$work/tree" && rm -rf "$work/tree/src" && cp -r /usr/local/go/src "$work/tree/src"
	printf 'ARG BASE\nFROM $BASE\nCOPY src /src\nRUN find /src -type f | wc -l > /count\n' >"$work/tree/Dockerfile"
	cold "$work/gantry-clean" "$work/$peer-clean" "tree, cold" \
		"$work/gantry --progress quiet build $work/tree --build-arg BASE=$BASE -t bench/tree:1" "$work/$peer-build $work/tree"
	vs "tree, unchanged" "$work/gantry --progress quiet build $work/tree --build-arg BASE=$BASE -t bench/tree:1" "$work/$peer-build $work/tree"
	vs "tree, one file changed" "echo // \$\$ >>$work/tree/src/go/build/build.go && exec $work/gantry --progress quiet build $work/tree --build-arg BASE=$BASE -t bench/tree:1" \
		"echo // \$\$ >>$work/tree/src/go/build/build.go && exec $work/$peer-build $work/tree"
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
	cold "$work/gantry-clean" "$work/$peer-clean" "small files, cold" \
		"$work/gantry --progress quiet build $work/small --build-arg BASE=$BASE -t bench/small:1" "$work/$peer-build $work/small"
	vs "small files, unchanged" "$work/gantry --progress quiet build $work/small --build-arg BASE=$BASE -t bench/small:1" "$work/$peer-build $work/small"
	vs "small files, one file changed" "echo x >>$work/small/node_modules/pkg0001/lib/f00.js && exec $work/gantry --progress quiet build $work/small --build-arg BASE=$BASE -t bench/small:1" \
		"echo x >>$work/small/node_modules/pkg0001/lib/f00.js && exec $work/$peer-build $work/small"
}

stages() {
	mkdir -p "$work/stages"
	printf 'ARG BASE\nFROM $BASE AS a\nRUN sleep 3 && echo a > /a\nFROM $BASE AS b\nRUN sleep 3 && echo b > /b\nFROM $BASE\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n' >"$work/stages/Dockerfile"
	vs "two independent stages (3 s each), no cache" "$work/gantry --progress quiet build --no-cache $work/stages --build-arg BASE=$BASE -t bench/stages:1" \
		"$work/$peer-build $work/stages --no-cache"
}

runs() {
	mkdir -p "$work/runs"
	{ echo 'ARG BASE'; echo 'FROM $BASE'; for i in $(seq 10); do echo "RUN echo $i > /f$i"; done; } >"$work/runs/Dockerfile"
	vs "ten trivial RUN steps, no cache" "$work/gantry --progress quiet build --no-cache $work/runs --build-arg BASE=$BASE -t bench/runs:1" \
		"$work/$peer-build $work/runs --no-cache"
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

for peer in $PEERS; do
	echo "=== gantry vs $peer"
	for w in ${@:-tree small stages runs seed}; do
		# the seed job's peer is crane, whichever the Dockerfile peer is
		[ "$w" != seed ] || [ "$peer" = "${PEERS%% *}" ] || continue
		$w
	done
done
echo "work folder: $work (remove it when done)"
