#!/usr/bin/env bash
# The CI-container isolation (issue 14) beside gantry's sandbox and beside
# BuildKit, on the same Dockerfiles, each pair timed with bench/vs.sh
# (alternating runs, ratio pair by pair, medians).
#
#   DOCKER_HOST=unix:///…/docker.sock BUILDKIT_HOST=unix:///…/buildkitd.sock \
#   REG=127.0.0.1:5000 BASE=$REG/e2e/busybox:amd64 [DEBIAN=$REG/bench/debian:bookworm] \
#   bench/container.sh [tree debian cacherepo]
#
# Every container run is a CI job as a runner makes it: `docker run --rm` of
# gantry's image (image/build.sh, pushed to $REG) under Docker's default
# security, a new container and so an empty store, the context mounted at
# /workspace; its time includes Docker starting and removing the container
# (the files a build writes in it). The sandbox's cold run deletes its whole
# store first, inside the timed command, and pulls the base as the container
# does. The page cache is dropped before every cold run of either.
#
# Workloads: tree (COPY the Go source tree, 156 MB, + RUN), debian (a Debian
# base, $DEBIAN, with RUN steps that change many files: touch every file of
# /usr/share, copy /usr/lib, delete /usr/share/doc), cacherepo (kaniko's
# executor with --cache-repo: a second runner, empty store, against the
# cold build that filled the cache).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DOCKER_HOST:?set DOCKER_HOST to a Docker engine}" "${BUILDKIT_HOST:?set BUILDKIT_HOST to a running buildkitd}"
: "${REG:?set REG to a registry}" "${BASE:?set BASE to a base image with /bin/sh}"
RUNS=${RUNS:-3}
work=${WORK:-$(mktemp -d /var/tmp/gantry-bench.XXXXXX)}
go build -o "$work/gantry" ./cmd/gantry
image=$REG/bench/gantry:container
GANTRY_ROOT="$work/image-store" bash image/build.sh "$image" --push >/dev/null
docker pull -q "$image" >/dev/null

cat >"$work/container-cold" <<EOF
#!/bin/sh
# container-cold DIR BASE [executor flags…]: a CI job building DIR.
dir=\$1 base=\$2; shift 2
"$work/drop"
exec docker run --rm --network host -v "\$dir":/workspace "$image" --progress quiet build /workspace \
	--build-arg BASE=\$base -t bench/container:1 "\$@" >/dev/null
EOF
cat >"$work/sandbox-cold" <<EOF
#!/bin/sh
dir=\$1 base=\$2; shift 2
rm -rf "$work/store"; "$work/drop"
exec "$work/gantry" --root "$work/store" --progress quiet build "\$dir" --isolation sandbox \
	--build-arg BASE=\$base -t bench/sandbox:1 "\$@" >/dev/null
EOF
cat >"$work/bk-cold" <<EOF
#!/bin/sh
dir=\$1 base=\$2; shift 2
buildctl prune --all >/dev/null 2>&1; "$work/drop"
exec buildctl build --frontend dockerfile.v0 --local context="\$dir" --local dockerfile="\$dir" \
	--opt build-arg:BASE=\$base --output type=image,name=bench/bk:1 "\$@" >/dev/null 2>&1
EOF
chmod +x "$work/container-cold" "$work/sandbox-cold" "$work/bk-cold"
. bench/lib.sh

tree() {
	mkdir -p "$work/tree" && rm -rf "$work/tree/src" && cp -r /usr/local/go/src "$work/tree/src"
	printf 'ARG BASE\nFROM $BASE\nCOPY src /src\nRUN find /src -type f | wc -l > /count\n' >"$work/tree/Dockerfile"
	vs "tree, cold: container isolation (A) vs sandbox (B)" "$work/container-cold $work/tree $BASE" "$work/sandbox-cold $work/tree $BASE"
	vs "tree, cold: container isolation (A) vs BuildKit (B)" "$work/container-cold $work/tree $BASE" "$work/bk-cold $work/tree $BASE"
}

debian() {
	: "${DEBIAN:?set DEBIAN to a Debian image in the registry (gantry import of a debootstrap tree, pushed)}"
	mkdir -p "$work/debian"
	cat >"$work/debian/Dockerfile" <<'EOF'
ARG BASE
FROM $BASE
RUN find /usr/share -type f -exec touch {} +
RUN cp -a /usr/lib /opt/lib
RUN rm -rf /usr/share/doc /usr/share/locale && echo done > /done
EOF
	vs "debian, cold: container isolation (A) vs sandbox (B)" "$work/container-cold $work/debian $DEBIAN" "$work/sandbox-cold $work/debian $DEBIAN"
	vs "debian, cold: container isolation (A) vs BuildKit (B)" "$work/container-cold $work/debian $DEBIAN" "$work/bk-cold $work/debian $DEBIAN"
}

cacherepo() {
	mkdir -p "$work/tree" && [ -d "$work/tree/src" ] || cp -r /usr/local/go/src "$work/tree/src"
	printf 'ARG BASE\nFROM $BASE\nCOPY src /src\nRUN find /src -type f | wc -l > /count\n' >"$work/tree/Dockerfile"
	cat >"$work/kaniko-job" <<EOF
#!/bin/sh
# kaniko-job CACHE-REPO: kaniko's executor command line on a new runner.
"$work/drop"
exec docker run --rm --network host -v "$work/tree":/workspace --entrypoint /kaniko/executor "$image" \
	--context dir:///workspace --dockerfile Dockerfile --build-arg BASE=$BASE \
	--destination $REG/bench/kaniko:1 --cache=true --cache-repo "\$1" >/dev/null 2>&1
EOF
	chmod +x "$work/kaniko-job"
	# The cold build fills a cache repository of its own each run; the
	# rebuild reads one filled once before.
	"$work/kaniko-job" "$REG/bench/kcache-warm"
	vs "kaniko's job, --cache-repo filled, empty store (A) vs the cold build that fills it (B)" \
		"$work/kaniko-job $REG/bench/kcache-warm" "$work/kaniko-job $REG/bench/kcache-\$(date +%s%N)"
}

for w in "${@:-tree debian cacherepo}"; do $w; done
echo "work folder: $work (remove it when done)"
