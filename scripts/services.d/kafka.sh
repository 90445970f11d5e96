# scripts/services.d/kafka.sh — Apache Kafka 4.3.1, KRaft combined broker+controller, one node.
# Sourced by scripts/services (uses its log, die, pid_alive, stop_pidfile, wait_until, port_of).
#
# Kafka comes from Maven Central through `mvn` (the only registry we may use for it): a generated
# pom pulls kafka_2.13 and its runtime jars into .services/kafka/lib, ~/.m2 caches them.
KAFKA_VERSION=4.3.1
LOG4J_VERSION=2.25.4   # the log4j-core that kafka-server 4.3.1 itself depends on
KAFKA_DIR="$SVC_DIR/kafka"
KAFKA_LIB="$KAFKA_DIR/lib"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"

kafka_install() {
    [[ -f $KAFKA_LIB/kafka_2.13-$KAFKA_VERSION.jar ]] && return 0
    command -v mvn >/dev/null || die "kafka: mvn (Maven 3) is needed to fetch Kafka from Maven Central"
    mkdir -p "$KAFKA_DIR"
    # kafka_2.13 brings slf4j-api 1.7, so the binding is log4j-slf4j-impl (slf4j 1.x), not the
    # slf4j2 one; without a binding the broker logs nothing at all. The plugin version is pinned
    # so Maven does not resolve "latest" from metadata.
    cat >"$KAFKA_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>vms.services</groupId><artifactId>kafka-lib</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
  <build><pluginManagement><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
  </plugin></plugins></pluginManagement></build>
</project>
EOF
    log "kafka: fetching kafka_2.13:$KAFKA_VERSION from Maven Central (mvn)"
    # Copy into a temp dir and rename, so an interrupted download never looks installed.
    # jansi.noreset: Debian's Maven 3.8 otherwise prints stray ESC[0m even with -q -B.
    rm -rf "$KAFKA_LIB.tmp"
    MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.noreset=true" mvn -q -B -f "$KAFKA_DIR/pom.xml" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB.tmp" \
        </dev/null >&2 || die "kafka: mvn failed"
    rm -rf "$KAFKA_LIB"
    mv "$KAFKA_LIB.tmp" "$KAFKA_LIB"
}

kafka_java() { java -cp "$KAFKA_LIB/*" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" "$@"; }

# kafka_ready PORT — send a raw ApiVersions v0 request and expect our correlation id back.
# An answer proves the broker serves requests, not just that something listens on the port,
# and unlike a kafka-topics style check it costs no extra JVM start (~1 s each).
kafka_ready() (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    # size=10 | api_key=18 (ApiVersions) | version=0 | correlation_id=1 | client_id=null
    printf '\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\xff\xff' >&3
    [[ $(timeout 2 head -c 8 <&3 | od -An -tx1 | tr -d ' \n') == ????????00000001 ]]
)

kafka_up() {
    local port="${VMS_SVC_KAFKA_PORT:-59092}" cport="${VMS_SVC_KAFKA_CONTROLLER_PORT:-59093}"
    if pid_alive "$KAFKA_PIDFILE" java; then
        log "kafka: already running (pid $(head -n1 "$KAFKA_PIDFILE"))"
        return 0
    fi
    command -v java >/dev/null || die "kafka: java (17+) is needed"
    kafka_install
    mkdir -p "$KAFKA_DATA"
    # Rewritten on every start so a port override applies to existing data too (the quorum is
    # static, so the controller address is not stored in the metadata log).
    cat >"$KAFKA_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA
# The project creates its topics itself, with chosen partition counts.
auto.create.topics.enable=false
num.partitions=1
# One node: internal topics cannot have the default replication factor of 3.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer __consumer_offsets partitions: the first consumer group joins faster in tests.
offsets.topic.num.partitions=5
group.initial.rebalance.delay.ms=0
# After a kill -9 the old registration must expire before the broker can register again
# (default 9 s); the broker heartbeats to itself here, so short timeouts are safe.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
# Claim-check payloads may travel inline up to a few MB.
message.max.bytes=10485760
replica.fetch.max.bytes=10485760
EOF
    # Quiet: warnings only, plus the broker's "Kafka Server started" line.
    cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
EOF
    if [[ ! -f $KAFKA_DATA/meta.properties ]]; then
        local cluster_id
        cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid) || die "kafka: random-uuid failed"
        log "kafka: formatting $KAFKA_DATA (cluster $cluster_id)"
        kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
            >>"$KAFKA_DIR/kafka.log" 2>&1 || die "kafka: storage format failed; see $KAFKA_DIR/kafka.log"
    fi
    # A port someone else holds (say another checkout's Kafka) would answer the readiness
    # probe below while our broker dies on bind, so refuse up front.
    local p
    for p in "$port" "$cport"; do
        ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null ||
            die "kafka: 127.0.0.1:$p is already in use (set VMS_SVC_KAFKA_PORT / _CONTROLLER_PORT)"
    done
    echo "$port" >"$KAFKA_DIR/port"
    log "kafka: starting on 127.0.0.1:$port (controller $cport)"
    # setsid: its own session, so neither a closing terminal nor a Ctrl-C aimed at the caller
    # reaches it; the inner bash writes its own pid and execs java, so the pid file is java's.
    # 9>&-: the daemon must not inherit (and so hold forever) our lock fd.
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PIDFILE" \
        java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -cp "$KAFKA_LIB/*" \
        kafka.Kafka "$KAFKA_DIR/server.properties" </dev/null >>"$KAFKA_DIR/kafka.log" 2>&1 9>&- &
    wait_until 5 "kafka pid file" pid_alive "$KAFKA_PIDFILE" java
    local i
    for ((i = 0; i < START_TIMEOUT * 5; i++)); do
        kafka_ready "$port" 2>/dev/null && return 0
        pid_alive "$KAFKA_PIDFILE" java || die "kafka exited during startup; see $KAFKA_DIR/kafka.log"
        sleep 0.2
    done
    die "kafka did not become ready in ${START_TIMEOUT}s; see $KAFKA_DIR/kafka.log"
}

# SIGTERM runs Kafka's controlled shutdown (flushes logs, writes a clean-shutdown marker, so
# the next start skips log recovery); stop_pidfile escalates to kill -9 after STOP_TIMEOUT.
kafka_down() { stop_pidfile kafka "$KAFKA_PIDFILE" java TERM; }

kafka_bootstrap() { echo "127.0.0.1:$(port_of kafka 59092)"; }
kafka_env() { pid_alive "$KAFKA_PIDFILE" java && echo "VMS_TEST_KAFKA_BOOTSTRAP=$(kafka_bootstrap)"; }
kafka_status() {
    if pid_alive "$KAFKA_PIDFILE" java; then
        echo "kafka running pid $(head -n1 "$KAFKA_PIDFILE") $(kafka_bootstrap)"
    else echo "kafka stopped"; fi
}

ENGINES+=(kafka)
