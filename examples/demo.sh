#!/usr/bin/env bash
# The seed walkthrough: base images without a registry, import, list, inspect, history,
# tags and removal; then (seed/walkthrough.sh) the build cache with the seed's two
# Dockerfiles, volumes, and networks. Uses its own lamina instance so it never
# disturbs yours.
set -euo pipefail
export LAMINA_ROOT=${LAMINA_ROOT:-/var/lib/lamina-demo}
export LAMINA_HOST=${LAMINA_HOST:-unix:///run/lamina-demo/lamina.sock}
sock=${LAMINA_HOST#unix://}
started_here=0
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
  if [ "$started_here" = 1 ] && [ -f "$(dirname "$sock")/lamina.pid" ]; then
    kill "$(cat "$(dirname "$sock")/lamina.pid")" 2>/dev/null || true
  fi
}
trap cleanup EXIT
[ -S "$sock" ] || started_here=1   # the first lamina command starts the daemon

step "A base image without a registry: busybox from Debian's busybox-static"
run lamina image bootstrap busybox
step "Bootstrapping again is cached: same image, nothing rebuilt"
run lamina image bootstrap busybox

step "Import a root filesystem tar as an image (docker import)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"; cleanup' EXIT
mkdir -p "$tmp/rootfs/app" && echo 'hello from an imported layer' > "$tmp/rootfs/app/hello.txt"
tar -C "$tmp/rootfs" -cf "$tmp/app.tar" .
run lamina import -c 'CMD ["cat", "/app/hello.txt"]' -c 'WORKDIR /app' "$tmp/app.tar" demo/app:1.0

step "Images, each layer stored once"
run lamina images
run lamina image inspect --format '{{.Id}} {{json .Config.Cmd}} {{.RootFS.Layers}}' demo/app:1.0
run lamina history busybox

step "The same tar imported again reuses its layer (same diffID, one copy on disk)"
run lamina import "$tmp/app.tar" demo/app:again
run lamina image inspect --format '{{.RootFS.Layers}}' demo/app:again
run lamina system df

step "Tags and removal follow Docker's rules"
run lamina tag demo/app:1.0 demo/app:latest
run lamina rmi demo/app:latest
run lamina rmi demo/app:1.0 demo/app:again
echo "An unknown image is a clear error, not a traceback:"
printf '$ lamina image inspect nosuch\n'
lamina image inspect nosuch || true
# The rest of the seed: layers and the build cache, volumes, networks.
. "$(dirname "$0")/seed/walkthrough.sh"
step "Done"
