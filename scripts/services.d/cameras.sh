# shellcheck shell=bash
# scripts/services.d/cameras.sh — simulated RTSP cameras (sourced by scripts/services).
#
# go2rtc v1.9.14, built from the Go module proxy, serves cam1..camN on
# rtsp://127.0.0.1:58554/camK, each a looping test clip (scripts/camera_media.py) sent as a
# stream copy: `ffmpeg -re -stream_loop -1 -i CLIP -c:v copy`, started by go2rtc only while a
# client is watching. The clips cycle H.264 1080p25, H.264 360p15, H.265 720p25, MJPEG 480p10;
# the manifest (VMS_TEST_CAMERAS_MANIFEST) says which camera has which.
#
#   VMS_SVC_CAMERAS=N                  number of cameras (default 8)
#   VMS_SVC_CAMERAS_BACKEND=gst        skip go2rtc and use the GStreamer fallback
#   VMS_SVC_CAMERAS_RTSP_PORT / _API_PORT / _WEBRTC_PORT   (58554 / 51984 / 58555)
#
# If go2rtc cannot be built, Debian's GStreamer RTSP server serves the same cameras instead
# (no go2rtc API then, so VMS_TEST_GO2RTC_API is not printed).

CAM_DIR="$SVC_DIR/cameras"
CAM_PIDFILE="$CAM_DIR/cameras.pid"
CAM_LOG="$CAM_DIR/cameras.log"
CAM_CONFIG="$CAM_DIR/go2rtc.yaml"
CAM_MANIFEST="$CAM_DIR/manifest.json"
CAM_GO2RTC="$SVC_DIR/bin/go2rtc"
CAM_GO2RTC_VERSION=v1.9.14   # keep in step with scripts/go2rtc-build
CAM_PYTHON=/usr/bin/python3      # Debian's: the GStreamer fallback needs its python3-gi

cameras_backend() { cat "$CAM_DIR/backend" 2>/dev/null || echo go2rtc; }
cameras_comm() { if [[ $(cameras_backend) == gst ]]; then echo python3; else echo go2rtc; fi; }
cameras_alive() { pid_alive "$CAM_PIDFILE" "$(cameras_comm)"; }
cameras_count() { cat "$CAM_DIR/count" 2>/dev/null || echo "${VMS_SVC_CAMERAS:-8}"; }
cameras_api_port() { cat "$CAM_DIR/api_port" 2>/dev/null || echo 51984; }

cameras_have_go2rtc() {
    [[ -x $CAM_GO2RTC ]] && "$CAM_GO2RTC" -version 2>/dev/null | grep -q "version ${CAM_GO2RTC_VERSION#v}"
}

# Build go2rtc into .services/bin with scripts/go2rtc-build (shared with `make run`, which builds
# the platform's own streaming gateway from the same binary; the script explains the recipe).
cameras_build_go2rtc() {
    log "cameras: building go2rtc $CAM_GO2RTC_VERSION (scripts/go2rtc-build)"
    "$REPO_ROOT/scripts/go2rtc-build" "$SVC_DIR/bin" || return 1
    cameras_have_go2rtc
}

cameras_install_gst() {
    "$CAM_PYTHON" -c 'import gi; gi.require_version("GstRtspServer", "1.0")' 2>/dev/null &&
        gst-inspect-1.0 h265parse >/dev/null 2>&1 && gst-inspect-1.0 matroskademux >/dev/null 2>&1 && return 0
    apt_install gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
        gstreamer1.0-tools
}

# Sets CAM_BACKEND to what will serve: go2rtc, or gst if go2rtc cannot be had.
cameras_install() {
    command -v ffmpeg >/dev/null || apt_install ffmpeg
    CAM_BACKEND="${VMS_SVC_CAMERAS_BACKEND:-go2rtc}"
    if [[ $CAM_BACKEND == go2rtc ]]; then
        cameras_have_go2rtc || cameras_build_go2rtc || {
            log "cameras: !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
            log "cameras: !!! go2rtc $CAM_GO2RTC_VERSION could not be built (see above)."
            log "cameras: !!! FALLING BACK to Debian's GStreamer RTSP server: same cameras and URLs,"
            log "cameras: !!! but no go2rtc API (VMS_TEST_GO2RTC_API unset) and no WebRTC."
            log "cameras: !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
            CAM_BACKEND=gst
        }
    fi
    [[ $CAM_BACKEND == go2rtc || $CAM_BACKEND == gst ]] ||
        die "cameras: VMS_SVC_CAMERAS_BACKEND must be go2rtc or gst, not '$CAM_BACKEND'"
    if [[ $CAM_BACKEND == gst ]]; then cameras_install_gst; fi
}

cameras_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# cameras_listening_or_dead PID PORT — stop waiting once PORT answers, or PID has died.
cameras_listening_or_dead() { ! alive "$1" || ! cameras_port_free "$2"; }

cameras_up() {
    local n="${VMS_SVC_CAMERAS:-8}"
    local rtsp="${VMS_SVC_CAMERAS_RTSP_PORT:-58554}" api="${VMS_SVC_CAMERAS_API_PORT:-51984}"
    local webrtc="${VMS_SVC_CAMERAS_WEBRTC_PORT:-58555}" pid p
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "cameras: VMS_SVC_CAMERAS must be a positive number, not '$n'"
    if cameras_alive; then
        log "cameras: already running (pid $(head -n1 "$CAM_PIDFILE"), $(cameras_backend), $(cameras_count) cameras)"
        [[ $(cameras_count) == "$n" ]] ||
            log "cameras: note: $n cameras asked for, $(cameras_count) running; run 'scripts/services down cameras' first to change"
        return 0
    fi
    mkdir -p "$CAM_DIR"
    cameras_install
    for p in "$rtsp" "$api" "$webrtc"; do
        cameras_port_free "$p" || die "cameras: 127.0.0.1:$p is already in use by another process"
    done
    # Makes any missing clip (first run: about a minute of encoding), writes config and manifest.
    local sim=("$CAM_PYTHON" "$REPO_ROOT/scripts/camera_simulator.py" --cameras "$n" --rtsp-port "$rtsp"
        --api-port "$api" --webrtc-port "$webrtc" --manifest-file "$CAM_MANIFEST")
    if [[ $CAM_BACKEND == go2rtc ]]; then
        "${sim[@]}" --config "$CAM_CONFIG" >&2 || die "cameras: could not write the go2rtc config"
    else
        "${sim[@]}" --no-api >&2 || die "cameras: could not write the manifest"
    fi
    echo "$CAM_BACKEND" >"$CAM_DIR/backend"
    echo "$n" >"$CAM_DIR/count"
    echo "$rtsp" >"$CAM_DIR/port"
    echo "$api" >"$CAM_DIR/api_port"
    log "cameras: starting $CAM_BACKEND with $n cameras on rtsp://127.0.0.1:$rtsp/cam1..cam$n"
    echo "---- $(date -Is) start $CAM_BACKEND, $n cameras" >>"$CAM_LOG"
    # setsid: its own process group, so `down` also ends the ffmpeg children it spawned.
    # 9>&-: the daemon must not inherit (and so hold forever) our lock fd.
    if [[ $CAM_BACKEND == go2rtc ]]; then
        (cd "$CAM_DIR" && exec setsid "$CAM_GO2RTC" -config "$CAM_CONFIG") </dev/null >>"$CAM_LOG" 2>&1 9>&- &
    else
        (cd "$CAM_DIR" && exec setsid "${sim[@]}" --serve-gst) </dev/null >>"$CAM_LOG" 2>&1 9>&- &
    fi
    pid=$!
    echo "$pid" >"$CAM_PIDFILE"
    wait_until "$START_TIMEOUT" "cameras (rtsp port $rtsp)" cameras_listening_or_dead "$pid" "$rtsp"
    cameras_alive || die "cameras: $CAM_BACKEND exited at start; see $CAM_LOG"
    if [[ $CAM_BACKEND == go2rtc ]]; then
        wait_until "$START_TIMEOUT" "go2rtc api" cameras_listening_or_dead "$pid" "$api"
        cameras_alive || die "cameras: go2rtc exited at start; see $CAM_LOG"
    fi
}

cameras_down() {
    local pid
    pid=$(head -n1 "$CAM_PIDFILE" 2>/dev/null || true)
    stop_pidfile cameras "$CAM_PIDFILE" "$(cameras_comm)" TERM
    # Its process group (setsid at start) may still hold ffmpeg children that were mid-stream.
    if [[ $pid =~ ^[0-9]+$ ]] && pgrep -g "$pid" -x ffmpeg >/dev/null 2>&1; then
        log "cameras: ending leftover ffmpeg of process group $pid"
        kill -TERM -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$CAM_PIDFILE"
}

cameras_rtsp_base() { echo "rtsp://127.0.0.1:$(port_of cameras 58554)"; }

cameras_env() {
    cameras_alive || return 0
    echo "VMS_TEST_RTSP_BASE=$(cameras_rtsp_base)"
    [[ $(cameras_backend) == go2rtc ]] && echo "VMS_TEST_GO2RTC_API=http://127.0.0.1:$(cameras_api_port)"
    echo "VMS_TEST_CAMERAS=$(cameras_count)"
    echo "VMS_TEST_CAMERAS_MANIFEST=$CAM_MANIFEST"
}

cameras_status() {
    if cameras_alive; then
        echo "cameras running pid $(head -n1 "$CAM_PIDFILE") $(cameras_backend) $(cameras_count) cameras $(cameras_rtsp_base)"
    else echo "cameras stopped"; fi
}

ENGINES+=(cameras)
