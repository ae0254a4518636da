# Sourced by contract/run and clients/run: starts target/debug/userorder on a fresh SQLite
# store with the admin token in $admin, on a port the kernel picks; sets $work (its
# directory, server.log inside), $server (its pid) and $base (its URL), and stops it and
# removes $work on exit.
work=$(mktemp -d)
./target/debug/userorder serve --listen 127.0.0.1:0 --database "sqlite://$work/server.db" \
  --admin-token "$admin" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
base=
for _ in $(seq 100); do
  base=$(grep -o 'addr=127.0.0.1:[0-9]*' "$work/server.log" | head -n1 | sed 's/addr=/http:\/\//' || true)
  [[ -n "$base" ]] && break
  sleep 0.1
done
[[ -n "$base" ]] || { cat "$work/server.log" >&2; echo "the server did not start" >&2; exit 1; }
