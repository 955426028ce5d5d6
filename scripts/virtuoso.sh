#!/usr/bin/env bash
# A private Virtuoso Open Source instance for medkg's tests and benchmarks (or a user's first try).
#
#   scripts/virtuoso.sh install            Debian's virtuoso-opensource, when virtuoso-t is missing (needs root)
#   scripts/virtuoso.sh start DIR [HTTP_PORT] [SQL_PORT]
#                                          a new database in DIR, listening on 127.0.0.1 only; writes
#                                          DIR/instance.env (endpoints, user, password; mode 600). Where DIR
#                                          holds a database this script made, it is started again with its
#                                          ports, users and passwords from DIR/instance.env
#   scripts/virtuoso.sh stop DIR           shuts that instance down (its files stay in DIR)
#
# PACKAGED_LIMITS=1 keeps the packaged result and time caps (10,000 rows, 60 s), as most servers have them.
#
# The instance gets a user `medkg` with a random password and the SPARQL_UPDATE role, so it can update over
# /sparql-auth and load over the Graph Store Protocol at /sparql-graph-crud-auth (both HTTP digest); anonymous
# /sparql can read. The dba password is random too and written only to DIR/instance.env.
set -euo pipefail

die() { echo "virtuoso.sh: $*" >&2; exit 1; }

install() {
  command -v virtuoso-t >/dev/null && command -v isql-vt >/dev/null && return 0
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends virtuoso-opensource
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

isql() {  # isql PORT PASSWORD SQL...
  local port=$1 password=$2; shift 2
  isql-vt "127.0.0.1:$port" dba "$password" "exec=$*" >/dev/null
}

start() {
  local dir=${1:?usage: virtuoso.sh start DIR [HTTP_PORT] [SQL_PORT]}
  command -v virtuoso-t >/dev/null || die "virtuoso-t not found: run 'make virtuoso' (Debian package virtuoso-opensource)"
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  [ -e "$dir/virtuoso.lck" ] && die "an instance already runs in $dir (stop it first)"
  if [ -f "$dir/virtuoso.db" ]; then
    [ -f "$dir/instance.env" ] || die "$dir holds a database without instance.env (not one this script made)"
    restart "$dir"; return
  fi
  local http=${2:-$(free_port)} sql=${3:-$(free_port)}
  local template=/etc/virtuoso-opensource-7/virtuoso.ini
  [ -f "$template" ] || die "$template not found (is virtuoso-opensource installed?)"
  # The packaged configuration with this instance's own files and loopback ports. Result rows are not capped at
  # the packaged 10,000 (medkg reads whole label tables) and queries are not cut at 60 s (medkg sets its own
  # time limits); medkg still detects either cap from the response headers where a server keeps them.
  local caps=(-e "s#^ResultSetMaxRows *=.*#ResultSetMaxRows = 10000000#" -e "s#^MaxQueryExecutionTime *=.*#MaxQueryExecutionTime = 0#")
  [ "${PACKAGED_LIMITS:-0}" = 1 ] && caps=(-e "s#^ResultSetMaxRows *=.*#ResultSetMaxRows = 10000#")
  sed -e "s#/var/lib/virtuoso-opensource-7/db#$dir#g" "${caps[@]}" \
      -e "s#^ServerPort *= *1111#ServerPort = 127.0.0.1:$sql#" \
      -e "s#^ServerPort *= *8890#ServerPort = 127.0.0.1:$http#" \
      -e "s#^DefaultHost *=.*#DefaultHost = 127.0.0.1:$http#" \
      -e "s#^DirsAllowed *=.*#DirsAllowed = ., $dir, /usr/share/virtuoso-opensource-7/vad#" \
      -e "s#^NumberOfBuffers *=.*#NumberOfBuffers = 170000#" \
      -e "s#^MaxDirtyBuffers *=.*#MaxDirtyBuffers = 130000#" \
      "$template" > "$dir/virtuoso.ini"
  launch "$dir"
  local dba_password user_password
  dba_password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
  user_password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
  wait_for_sql "$dir" "$sql" dba
  isql "$sql" dba "DB.DBA.USER_CREATE('medkg', '$user_password'); GRANT SPARQL_UPDATE TO \"medkg\";
    DB.DBA.RDF_DEFAULT_USER_PERMS_SET('nobody', 1); DB.DBA.RDF_DEFAULT_USER_PERMS_SET('medkg', 3);
    USER_SET_PASSWORD('dba', '$dba_password');" \
    || { isql "$sql" dba "shutdown" 2>/dev/null || true; die "could not create the medkg user (see $dir/virtuoso.log)"; }
  umask 077
  cat > "$dir/instance.env" <<EOF
MEDKG_VIRTUOSO_DIR=$dir
MEDKG_VIRTUOSO_SQL_PORT=$sql
MEDKG_VIRTUOSO_DBA_PASSWORD=$dba_password
MEDKG_ENDPOINT=http://127.0.0.1:$http/sparql-auth
MEDKG_GRAPH_STORE=http://127.0.0.1:$http/sparql-graph-crud-auth
MEDKG_ENDPOINT_USER=medkg
MEDKG_ENDPOINT_PASSWORD=$user_password
EOF
  echo "Virtuoso on http://127.0.0.1:$http/sparql (settings in $dir/instance.env)"
}

launch() {  # launch DIR: virtuoso-t on DIR/virtuoso.ini, in the background once it listens
  local dir=$1
  (cd "$dir" && virtuoso-t +configfile "$dir/virtuoso.ini" +wait) >"$dir/start.log" 2>&1 \
    || { cat "$dir/start.log" "$dir/virtuoso.log" >&2 2>/dev/null; die "virtuoso-t did not start (see $dir/virtuoso.log)"; }
}

wait_for_sql() {  # wait_for_sql DIR PORT PASSWORD: until the SQL port answers; the server is shut down if not
  local dir=$1 port=$2 password=$3
  for _ in $(seq 1 60); do isql "$port" "$password" "select 1" 2>/dev/null && return 0; sleep 1; done
  # virtuoso.lck reads VIRT_PID=N while the server runs
  [ -f "$dir/virtuoso.lck" ] && kill "$(sed -n 's/^VIRT_PID=//p' "$dir/virtuoso.lck")" 2>/dev/null || true
  die "Virtuoso in $dir did not answer on 127.0.0.1:$port (see $dir/virtuoso.log)"
}

restart() {  # restart DIR: the database this script made, on the ports and with the users of its instance.env
  local dir=$1
  # shellcheck disable=SC1091
  . "$dir/instance.env"
  launch "$dir"
  wait_for_sql "$dir" "$MEDKG_VIRTUOSO_SQL_PORT" "$MEDKG_VIRTUOSO_DBA_PASSWORD"
  echo "Virtuoso on ${MEDKG_ENDPOINT%/sparql-auth}/sparql again (settings in $dir/instance.env)"
}

stop() {
  local dir=${1:?usage: virtuoso.sh stop DIR}
  [ -f "$dir/instance.env" ] || die "no instance in $dir"
  # shellcheck disable=SC1091
  . "$dir/instance.env"
  if [ -e "$dir/virtuoso.lck" ]; then
    isql "$MEDKG_VIRTUOSO_SQL_PORT" "$MEDKG_VIRTUOSO_DBA_PASSWORD" "shutdown" 2>/dev/null || true
    for _ in $(seq 1 30); do [ -e "$dir/virtuoso.lck" ] || break; sleep 1; done
  fi
  [ -e "$dir/virtuoso.lck" ] && die "the instance in $dir did not stop"
  echo "Virtuoso in $dir stopped"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: virtuoso.sh install | start DIR [HTTP_PORT] [SQL_PORT] | stop DIR" ;;
esac
