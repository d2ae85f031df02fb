# ingest --user NAME gives the store to NAME on every start.  From the
# second start on NAME owns the store and can exchange a folder in it with
# a symbolic link while root walks it (renameat2 RENAME_EXCHANGE in a
# loop).  Root must never chown anything outside the store: a root-owned
# 0600 file beside the store keeps its owner through many restarts.
. "$E2E_LIB"
. "$(dirname "$0")/live_lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (ingest --user drops from root)"
need setpriv
need cc
user=$(getent passwd nobody | cut -d: -f1) || true
[ -n "$user" ] || skip "no user 'nobody' to drop to"
uid=$(id -u "$user"); gid=$(id -g "$user")
here=$(cd "$(dirname "$0")" && pwd)
cc -std=c11 -O1 -o swap_exchange "$here/swap_exchange.c" 2>cc.err || { cat cc.err; fail "cannot build swap_exchange"; }
chmod 0755 "$PWD" swap_exchange
as_user() { setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"; }
as_user true 2>/dev/null || skip "setpriv cannot switch to $user here"

# the target: root's file outside the store, with the name of a file that
# the attacker keeps inside the store
mkdir -m 0755 outside
echo secret > outside/f
chmod 0600 outside/f
owner() { stat -c %u:%g outside/f; }
expect_eq "owner of the outside file before" "0:0" "$(owner)"

# first start: root makes the store and gives it to the user
live_start st --user "$user"
grep -q "running as $user" ingest.err || { cat ingest.err; fail "ingest did not drop to $user"; }
live_stop
expect_eq "store owner after the first start" "$uid" "$(stat -c %u st)"

# the attacker: a folder with a file 'f', and a link to outside/
as_user mkdir st/d
as_user sh -c 'echo mine > st/d/f'
as_user ln -s "$PWD/outside" st/l
# setpriv execs the swapper, so $! is the swapper itself
# bounded in time: 18 s of restarts (30 s on the slower SAN=1 build)
secs=18; [ "${SAN:-0}" = 1 ] && secs=30
setpriv --reuid="$uid" --regid="$gid" --clear-groups -- ./swap_exchange st d l $((secs + 2)) > swap.out 2>&1 &
swp=$!
trap 'kill "$swp" 2>/dev/null || true; [ -n "${LIVE_PID:-}" ] && kill -9 "$LIVE_PID" 2>/dev/null || true' EXIT

starts=0 t0=$(date +%s)
while [ $(( $(date +%s) - t0 )) -lt "$secs" ] && [ $starts -lt 300 ]; do
  live_start st --user "$user"
  starts=$((starts + 1))
  live_stop
  cat ingest.err >> all-starts.err
  [ "$(owner)" = "0:0" ] && continue
  fail "after $starts starts root gave outside/f to $(owner): the chown followed the link"
done
wait "$swp" || { cat swap.out; fail "the swapper failed"; }
cat swap.out
swaps=$(awk '{print $1}' swap.out)
[ "${swaps:-0}" -gt 1000 ] || fail "the swapper made only ${swaps:-0} exchanges: the test proved nothing"
[ "$starts" -ge 5 ] || fail "only $starts starts in the time: the test proved nothing"
expect_eq "owner of the outside file after $starts starts" "0:0" "$(owner)"
expect_eq "content of the outside file" "secret" "$(cat outside/f)"
# the walk said what it left alone (the link).  Not on every start: while
# the swapper exchanges the two names, one walk can find the folder under
# both names (each opened without following) and never meet the link.
grep -q 'symbolic links (never followed)' all-starts.err ||
  { tail -n 20 all-starts.err; fail "no start noted the skipped link"; }
echo "$starts starts against $swaps exchanges: outside/f kept its owner"
