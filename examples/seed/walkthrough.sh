# The seed's walkthrough after images: the build cache, volumes, networks.
# Sourced by examples/demo.sh (uses its `step` and `run`); the app is in seed/app.
seed=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
cp -r "$seed/app" "$work/app"  # the demo edits its copy; the repository stays as it is
app="$work/app"

# One line per build step: "[5/7] RUN python3 install_deps.py ...   CACHED | built".
build() {
  printf '$ lamina build %s\n' "$*"
  lamina build "$@" "$app" 2>&1 | awk '
    /^#[0-9]+ \[[0-9]+\/[0-9]+\]/ { id = $1; sub(/^#[0-9]+ /, ""); step[id] = $0; order[++n] = id }
    /^#[0-9]+ CACHED/ { state[$1] = "CACHED" }
    /^#[0-9]+ DONE/ { if (!($1 in state)) state[$1] = "built" }
    /^(ERROR|error)/ { print; failed = 1 }
    / FROM / { state[id] = "(base image)" }
    END { for (i = 1; i <= n; i++) printf "    %-58s %s\n", step[order[i]], state[order[i]]; exit failed }'
}
wait_db() {  # redis-server takes a moment to accept connections
  for _ in $(seq 100); do
    lamina exec "$1" redis-cli ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "database $1 did not start" >&2
  return 1
}
redis() { printf '$ lamina exec %s redis-cli %s\n' "$1" "${*:2}"; lamina exec "$1" redis-cli "${@:2}"; }
seed_cleanup() {
  lamina rm -f sampledb volumedb finaldb >/dev/null 2>&1 || true
  lamina network rm my_custom_network >/dev/null 2>&1 || true
  lamina volume rm sample_volume >/dev/null 2>&1 || true
}
seed_cleanup  # what an interrupted run may have left

step "A base image with Python and Redis, from Debian's packages (cached after the first time)"
run lamina image bootstrap debian:bookworm --include python3,redis-server -t seed-base

step "Layers: the seed's app built with its first Dockerfile and with the better one"
cat "$app/Dockerfile.bad"
build -f "$app/Dockerfile.bad" -t seed-app:bad
cat "$app/Dockerfile"
build -t seed-app

step "A code change (app.py): the first Dockerfile installs the dependencies again, the better one does not"
echo "# a code change ($(date +%s%N))" >> "$app/app.py"
build -f "$app/Dockerfile.bad" -t seed-app:bad
build -t seed-app

step "A dependency change (requirements.txt): now the better Dockerfile installs them again too"
echo "# a dependency change ($(date +%s%N))" >> "$app/requirements.txt"
build -t seed-app
echo "Building the same files again, in another folder, reuses every layer (the cache is global):"
cp -r "$app" "$work/elsewhere"
printf '$ lamina build -t seed-app:copy %s\n' "$work/elsewhere"
lamina build -t seed-app:copy "$work/elsewhere" 2>&1 | grep -c CACHED | xargs printf '    %s steps CACHED\n'

step "Volumes: without one, the database's data goes with its container"
run lamina run -d --name sampledb seed-base redis-server --protected-mode no --appendonly yes
wait_db sampledb
redis sampledb set greeting "hello from the first container"
run lamina rm -f sampledb
run lamina run -d --name sampledb seed-base redis-server --protected-mode no --appendonly yes
wait_db sampledb
redis sampledb get greeting
echo "(empty: the data was lost with the first container)"
run lamina rm -f sampledb

step "With a volume (-v sample_volume:/data) the data outlives the container"
run lamina volume create sample_volume
run lamina run -d -v sample_volume:/data --name volumedb seed-base \
  redis-server --dir /data --appendonly yes --protected-mode no
wait_db volumedb
redis volumedb set greeting "hello from the first container"
run lamina rm -f volumedb
run lamina run -d -v sample_volume:/data --name volumedb seed-base \
  redis-server --dir /data --appendonly yes --protected-mode no
wait_db volumedb
redis volumedb get greeting
run lamina rm -f volumedb

step "Networks: localhost in a container is the container itself"
run lamina network ls
run lamina network create my_custom_network
run lamina run -d -v sample_volume:/data --name finaldb --network my_custom_network \
  -p 28000:6379 seed-base redis-server --dir /data --appendonly yes --protected-mode no
wait_db finaldb
run lamina port finaldb
echo "The app in its own container, told to use localhost:28000 (the seed's first try), fails:"
run lamina run --rm -e DB_URL=localhost:28000 seed-app || true
echo "On my_custom_network it finds the database by its name (on the database's own port,"
echo "6379: 28000 is a port of the host, not of the database's container):"
run lamina run --rm --network my_custom_network -e DB_URL=finaldb:6379 seed-app
run lamina run --rm --network my_custom_network -e DB_URL=finaldb:6379 seed-app \
  python3 app.py get greeting
echo "The host reaches the database on 127.0.0.1:28000:"
printf '$ (python) send PING to 127.0.0.1:28000\n'
python3 -c 'import socket; s = socket.create_connection(("127.0.0.1", 28000), timeout=5)
s.sendall(b"PING\r\n"); print("   ", s.recv(64).decode().strip())'
echo "A container on the default bridge has an address but cannot resolve names:"
run lamina run --rm --dns 127.0.0.1 seed-base sh -c 'getent hosts finaldb || echo "finaldb: unknown name"'
seed_cleanup
rm -rf "$work"
