# Helpers for the live-ingest tests (t_live_*.sh).  Loopback only.
# live_start STORE ARGS...: starts `tapvault ingest -s STORE -l 127.0.0.1:PORT ARGS`
# on a free port in the background; sets LIVE_PID and LIVE_PORT; logs in ingest.out/.err.
# With LIVE_CWD set, ingest runs in that directory (STORE must then be absolute).
live_start() {
  local store=$1; shift
  local try
  for try in 1 2 3 4 5 6 7 8; do
    LIVE_PORT=$(( 20000 + (RANDOM % 30000) ))
    # the previous start's log must not answer for this one: the grep below
    # can run before the redirection truncates it
    rm -f ingest.out ingest.err
    ( cd "${LIVE_CWD:-.}" && exec "$TAPVAULT" ingest -s "$store" -l "127.0.0.1:$LIVE_PORT" "$@" ) \
      >ingest.out 2>ingest.err &
    LIVE_PID=$!
    for _ in $(seq 1 50); do
      grep -q 'listening on' ingest.err 2>/dev/null && return 0
      kill -0 "$LIVE_PID" 2>/dev/null || break
      sleep 0.1
    done
    wait "$LIVE_PID" 2>/dev/null || true
    grep -q 'Address already in use' ingest.err || { cat ingest.err >&2; fail "ingest -l did not start"; }
  done
  fail "no free UDP port found"
}
# live_stop: SIGTERM, wait (bounded: 20 s), expect exit 0
live_stop() {
  kill -TERM "$LIVE_PID"
  for _ in $(seq 1 200); do kill -0 "$LIVE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$LIVE_PID" 2>/dev/null && { kill -9 "$LIVE_PID"; fail "ingest did not stop within 20 s of SIGTERM"; }
  local rc=0; wait "$LIVE_PID" || rc=$?
  [ "$rc" = 0 ] || { cat ingest.out ingest.err >&2; fail "ingest exited $rc after SIGTERM"; }
}
# json_field FILE A/B: a value from stats --format json (keys joined by /)
json_field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); k=sys.argv[2].split("/"); [d:=d[x] for x in k]; print(d)' "$1" "$2"; }
trap '[ -n "${LIVE_PID:-}" ] && kill -9 "$LIVE_PID" 2>/dev/null || true' EXIT
