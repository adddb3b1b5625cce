#!/usr/bin/env bash
# Makes gantry's own image, with gantry (a flag build, no Dockerfile): the
# static binary for amd64 and arm64 in one index, CA certificates, a
# /workspace, kaniko's /kaniko/executor and /kaniko/.docker, and the mark
# that this container exists for builds (RUN then uses the container as its
# isolation where namespaces are refused). REPO:TAG-debug adds busybox at
# /busybox for CI scripts.
#
#   image/build.sh REPO:TAG [gantry build flags…]   e.g. --push, -o type=oci,dest=gantry.tar
#
# Needs Go, and for the -debug variant the busybox-static .debs of both
# architectures (apt-get download busybox-static busybox-static:arm64) in
# $BUSYBOX_DEBS (skipped when unset).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:?usage: image/build.sh REPO:TAG [gantry build flags…]}
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

version=$(git describe --always --dirty 2>/dev/null || echo dev)
for arch in amd64 arm64; do
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "-s -w -X main.version=$version" \
		-o "$work/bin/$arch/gantry" ./cmd/gantry
done
go build -o "$work/gantry" ./cmd/gantry # this machine's, to make the image

root=$work/root
mkdir -p "$root/gantry/certs" "$root/gantry/store" "$root/gantry/tmp" "$root/workspace" "$root/kaniko/.docker" "$root/root"
# Any user the container runs as builds into the store (COPY-only builds
# work without root); the container is throwaway.
chmod 1777 "$root/gantry/store" "$root/gantry/tmp" "$root/workspace"
cp /etc/ssl/certs/ca-certificates.crt "$root/gantry/certs/"
: >"$root/gantry/.build-container"
ln -s /gantry/gantry "$root/kaniko/executor"

config=(--workdir /workspace --entrypoint '["/gantry/gantry"]'
	--env SSL_CERT_FILE=/gantry/certs/ca-certificates.crt --env GANTRY_ROOT=/gantry/store
	--env TMPDIR=/gantry/tmp --env DOCKER_CONFIG=/kaniko/.docker --env HOME=/root
	--label org.opencontainers.image.source=https://github.com/gantry-build/gantry
	--label org.opencontainers.image.version="$version")
platforms=linux/amd64,linux/arm64

"$work/gantry" build --from scratch --platform "$platforms" \
	--add "$root:/" --add "$work/bin/\${TARGETARCH}/gantry:/gantry/gantry" \
	--env PATH=/gantry:/kaniko "${config[@]}" -t "$tag" "$@"

if [ -n "${BUSYBOX_DEBS:-}" ]; then
	for arch in amd64 arm64; do
		mkdir -p "$work/deb-$arch" "$work/busybox/$arch/busybox"
		dpkg-deb -x "$(ls "$BUSYBOX_DEBS"/busybox-static_*_"$arch".deb)" "$work/deb-$arch"
		cp "$work/deb-$arch/bin/busybox" "$work/busybox/$arch/busybox/"
		# The applets as links, run by this machine's busybox of the same
		# name list (the list does not depend on the architecture).
		for applet in $("$work/deb-amd64/bin/busybox" --list 2>/dev/null || "$work/deb-$arch/bin/busybox" --list); do
			[ "$applet" = busybox ] || ln -sf busybox "$work/busybox/$arch/busybox/$applet"
		done
	done
	"$work/gantry" build --from scratch --platform "$platforms" \
		--add "$root:/" --add "$work/bin/\${TARGETARCH}/gantry:/gantry/gantry" --add "$work/busybox/\${TARGETARCH}/busybox:/busybox" \
		--env PATH=/gantry:/kaniko:/busybox "${config[@]}" -t "$tag-debug" "$@"
fi
