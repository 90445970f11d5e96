# shellcheck shell=bash
# scripts/services.d/ferretdb.sh — FerretDB v1.24.2 (MongoDB wire protocol) on its SQLite handler.
# Sourced by scripts/services (uses its log, die, alive, pid_alive, stop_pidfile, wait_until, port_of).
#
# Serves mongodb://127.0.0.1:57017/ (VMS_SVC_FERRETDB_PORT overrides) with its data in
# .services/ferretdb/data (one SQLite file per database), for the MongoDB audit adapter's tests.
#
# The binary is built from the Go module proxy once per machine and kept, keyed by version, in
# ~/.cache/vms-services/ferretdb/<version>/ (VMS_SVC_CACHE moves it), so a fresh clone reuses it.
FERRETDB_MODULE=github.com/FerretDB/FerretDB
FERRETDB_VERSION=v1.24.2
FERRETDB_DIR="$SVC_DIR/ferretdb"
FERRETDB_DATA="$FERRETDB_DIR/data"
FERRETDB_PIDFILE="$FERRETDB_DIR/ferretdb.pid"
FERRETDB_LOG="$FERRETDB_DIR/ferretdb.log"
FERRETDB_BIN="${VMS_SVC_CACHE:-$HOME/.cache/vms-services}/ferretdb/$FERRETDB_VERSION/ferretdb"

ferretdb_go() {
    if [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go; else command -v go; fi
}

# Output captured, not piped into `grep -q`: grep would exit at the first line, ferretdb then dies
# of SIGPIPE on the next, and under pipefail a good binary would look broken (and be rebuilt).
ferretdb_have() {
    [[ -x $FERRETDB_BIN && $'\n'$("$FERRETDB_BIN" --version 2>/dev/null)$'\n' == *$'\n'"version: $FERRETDB_VERSION"$'\n'* ]]
}

# Build FerretDB into the cache. `go install …/cmd/ferretdb@v1.24.2` and the scratch-module
# `go get -tool` recipe both build, but the binary panics at start ("Invalid
# build/version/version.txt file content"): its build info names FerretDB as the main module, and
# then build/version demands version.txt, which their release tooling writes and the module zip
# lacks. (The proxy here lists only v1.24.1 and v1.24.2 for FerretDB; the version is named anyway.)
# So the exact module is downloaded (checked against go.sum and sum.golang.org as usual), copied,
# given its version.txt, and built with its own go.mod and go.sum (-mod=readonly: no resolution
# of our own). modernc.org/sqlite is pure Go, so it builds with CGO_ENABLED=0: a static binary.
# Timed with 2 cores: cold (module downloads + empty build cache) about 105 s; modules cached but
# no build cache about 40 s; warm (~/.cache/go-build) about 2 s; a clone finding the binary: none.
ferretdb_install() {
    ferretdb_have && return 0
    local go dir tmp
    go=$(ferretdb_go) || die "ferretdb: no Go toolchain (looked for /usr/local/go/bin/go and go)"
    log "ferretdb: building $FERRETDB_VERSION with $go ($("$go" env GOVERSION)) into $(dirname "$FERRETDB_BIN")"
    mkdir -p "$(dirname "$FERRETDB_BIN")"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/vms-ferretdb-build.XXXXXX")
    # The subshell's EXIT trap removes the build copy whether the build works or not. (`set -e`
    # would be ignored inside `( … ) || die`, hence the explicit && chain.)
    (
        trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
        dir=$(cd "$tmp" && "$go" mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION" |
            sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || exit 1
        [[ -n $dir && -f $dir/go.mod ]] || { log "ferretdb: go mod download gave no module directory"; exit 1; }
        cp -r "$dir" "$tmp/src" &&
            chmod -R u+w "$tmp/src" && # the module cache is read-only
            echo "$FERRETDB_VERSION" >"$tmp/src/build/version/version.txt" &&
            cd "$tmp/src" &&
            CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
                "$go" build -trimpath -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb &&
            mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN" # rename: an interrupted build never looks installed
    ) >&2 || die "ferretdb: building $FERRETDB_MODULE@$FERRETDB_VERSION failed (see above)"
    ferretdb_have || die "ferretdb: built $FERRETDB_BIN does not report version $FERRETDB_VERSION"
}

# ferretdb_ready PORT — send an OP_MSG {ping: 1, $db: "admin"} and expect an OP_MSG answer with
# ok: 1.0. An answer proves the server handles commands (its SQLite backend is open), not just
# that the port is bound; plain bash, so `up` needs neither the project venv nor a mongo shell.
# The request: header (length 51 | requestID 1 | responseTo 0 | opCode 2013 = OP_MSG), flags 0,
# section kind 0, then the 30-byte BSON document {ping: int32 1, $db: "admin"}.
FERRETDB_PING='\x33\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xdd\x07\x00\x00\x00\x00\x00\x00\x00'
FERRETDB_PING+='\x1e\x00\x00\x00\x10ping\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00'
ferretdb_ready() (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "$FERRETDB_PING" >&3
    head=$(timeout 2 dd bs=1 count=16 status=none <&3 | od -An -tx1 | tr -d ' \n')
    # responseTo must be our requestID 1 and the opCode OP_MSG; the length is little-endian.
    [[ ${#head} == 32 && ${head:16:16} == 01000000dd070000 ]] || exit 1
    len=$((16#${head:6:2}${head:4:2}${head:2:2}${head:0:2}))
    ((len > 16 && len < 65536)) || exit 1
    # "ok" as a BSON double 1.0: type 0x01, "ok\0", 00 00 00 00 00 00 f0 3f.
    [[ $(timeout 2 dd bs=1 count=$((len - 16)) status=none <&3 | od -An -tx1 | tr -d ' \n') == \
        *016f6b00000000000000f03f* ]]
)

ferretdb_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ferretdb_up() {
    local port="${VMS_SVC_FERRETDB_PORT:-57017}" i
    if pid_alive "$FERRETDB_PIDFILE" ferretdb; then
        log "ferretdb: already running (pid $(head -n1 "$FERRETDB_PIDFILE"))"
        return 0
    fi
    ferretdb_install
    mkdir -p "$FERRETDB_DATA"
    # A port someone else holds would answer the readiness probe while ours dies on bind.
    ferretdb_port_free "$port" ||
        die "ferretdb: 127.0.0.1:$port is already in use (set VMS_SVC_FERRETDB_PORT)"
    echo "$port" >"$FERRETDB_DIR/port"
    log "ferretdb: starting $FERRETDB_VERSION (sqlite handler) on 127.0.0.1:$port"
    echo "---- $(date -Is) start $FERRETDB_VERSION on 127.0.0.1:$port" >>"$FERRETDB_LOG"
    # --debug-addr=-: no metrics/pprof HTTP listener (its default 127.0.0.1:8088 would clash
    # between checkouts). --state-dir: its state.json (instance uuid) stays beside the data.
    # --log-level=error: at warn it logs ~20 lines per client close, since pymongo ends with
    # endSessions, a command FerretDB 1.x does not have; start-up failures are errors, so kept.
    # setsid: its own session, so a Ctrl-C aimed at the caller does not reach it; the inner bash
    # writes its own pid and execs, so the pid file is ferretdb's.
    # 9>&-: the daemon must not inherit (and so hold forever) our lock fd.
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$FERRETDB_PIDFILE" \
        "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$FERRETDB_DATA/" \
        --listen-addr="127.0.0.1:$port" --state-dir="$FERRETDB_DIR" --debug-addr=- \
        --telemetry=disable --log-level=error \
        </dev/null >>"$FERRETDB_LOG" 2>&1 9>&- &
    wait_until 5 "ferretdb pid file" pid_alive "$FERRETDB_PIDFILE" ferretdb
    for ((i = 0; i < START_TIMEOUT * 5; i++)); do
        ferretdb_ready "$port" 2>/dev/null && return 0
        pid_alive "$FERRETDB_PIDFILE" ferretdb || die "ferretdb exited during startup; see $FERRETDB_LOG"
        sleep 0.2
    done
    die "ferretdb did not become ready in ${START_TIMEOUT}s; see $FERRETDB_LOG"
}

# SIGTERM: FerretDB stops listening and closes its SQLite databases cleanly.
ferretdb_down() { stop_pidfile ferretdb "$FERRETDB_PIDFILE" ferretdb TERM; }

ferretdb_url() { echo "mongodb://127.0.0.1:$(port_of ferretdb 57017)/"; }
ferretdb_env() { pid_alive "$FERRETDB_PIDFILE" ferretdb && echo "VMS_TEST_MONGO_URL=$(ferretdb_url)"; }
ferretdb_status() {
    if pid_alive "$FERRETDB_PIDFILE" ferretdb; then
        echo "ferretdb running pid $(head -n1 "$FERRETDB_PIDFILE") $(ferretdb_url)"
    else echo "ferretdb stopped"; fi
}

ENGINES+=(ferretdb)
