# shellcheck shell=bash disable=SC2034  # sourced; the variables are used by the scripts
# Shared by start.sh, stop.sh and admin.sh (sourced, not run).
#
# Environment (all optional):
#   NEO4J_LOCAL_RUN        run folder: conf, data, logs, pid file   (default: neo4j-local/run)
#   NEO4J_LOCAL_ENV        env file written for the tests            (default: <repo>/.neo4j-local.env)
#   NEO4J_LOCAL_BOLT_PORT  Bolt port; when unset 7687 if free, else a free port
#   NEO4J_LOCAL_HTTP_PORT  HTTP port; when unset 7474 if free, else a free port
#   NEO4J_LOCAL_HEAP_INITIAL / NEO4J_LOCAL_HEAP_MAX / NEO4J_LOCAL_PAGECACHE   (512m / 1536m / 512m)
#   NEO4J_LOCAL_TIMEOUT    seconds to wait for Bolt + HTTP          (default 180)
#   NEO4J_LOCAL_KEEP_DATA  1: keep run/data (e.g. after admin.sh database import); default: fresh data
#   NEO4J_LOCAL_JAVA_HOME  JDK to use; else JAVA_HOME if it is 17 or 21, else a 17/21 under /usr/lib/jvm
#   NEO4J_LOCAL_JAVA_OPTS  extra JVM flags for the server, space-separated
#   NEO4J_LOCAL_CDS        1: use a class-data-sharing archive (target/cds); the first start with it
#                          records one, written when stop.sh stops that server (~1/3 less startup CPU)
#   NEO4J_LOCAL_OFFLINE    1: build with `mvn -o` only (fail instead of downloading)

NL_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NL_REPO="$(cd "$NL_HOME/.." && pwd)"
NL_RUN="$(realpath -m -- "${NEO4J_LOCAL_RUN:-$NL_HOME/run}")"
NL_ENV_FILE="$(realpath -m -- "${NEO4J_LOCAL_ENV:-$NL_REPO/.neo4j-local.env}")"
NL_TARGET="$NL_HOME/target"
NL_LIB="$NL_TARGET/lib"
NL_PLUGINS="$NL_TARGET/plugins"
NL_CONF_DIR="$NL_RUN/conf"
NL_PID_FILE="$NL_RUN/neo4j.pid"
NL_STATE_FILE="$NL_RUN/instance.env"   # same lines as the env file, kept with the run folder

nl_log() { printf 'neo4j-local: %s\n' "$*" >&2; }
nl_die() { nl_log "ERROR: $*"; exit 1; }

# --- Java -----------------------------------------------------------------
nl_java_major() {  # $1 = java binary; prints the feature version (17, 21, ...)
    "$1" -XshowSettings:properties -version 2>&1 \
        | sed -n 's/^ *java\.specification\.version = \([0-9.]*\).*/\1/p' | head -n1
}

nl_pick_java() {
    local cand major
    for cand in "${NEO4J_LOCAL_JAVA_HOME:-}" "${JAVA_HOME:-}" \
                /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk* /usr/lib/jvm/*-17* \
                /usr/lib/jvm/java-21-openjdk* /usr/lib/jvm/*-21*; do
        if [ -z "$cand" ] || [ ! -x "$cand/bin/java" ]; then continue; fi
        major="$(nl_java_major "$cand/bin/java")"
        if [ "$major" = 17 ] || [ "$major" = 21 ]; then
            export JAVA_HOME="$cand"; NL_JAVA="$cand/bin/java"; return 0
        fi
    done
    if command -v java >/dev/null 2>&1; then
        major="$(nl_java_major java)"
        if [ "$major" = 17 ] || [ "$major" = 21 ]; then
            NL_JAVA="$(command -v java)"
            JAVA_HOME="$(cd "$(dirname "$(readlink -f "$NL_JAVA")")/.." && pwd)"
            export JAVA_HOME
            return 0
        fi
    fi
    nl_die "Neo4j 5.26 needs Java 17 or 21; none found (set NEO4J_LOCAL_JAVA_HOME)"
}

# --- Build (mvn package -> target/lib, target/plugins) ---------------------
nl_build() {
    mkdir -p "$NL_TARGET"
    local stamp="$NL_TARGET/.built" want
    want="$(cksum < "$NL_HOME/pom.xml")"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    (
        flock 8
        [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0
        command -v mvn >/dev/null 2>&1 || nl_die "mvn not found (needed once to assemble target/lib)"
        rm -rf "$NL_LIB" "$NL_PLUGINS"
        nl_log "building the server classpath with Maven (first time: ~130 MB from Maven Central)"
        cd "$NL_HOME" || exit 1
        # Offline first: works without network once ~/.m2 holds everything.
        if ! mvn -B -q -o package >"$NL_TARGET/mvn-offline.log" 2>&1; then
            [ "${NEO4J_LOCAL_OFFLINE:-0}" = 1 ] && { cat "$NL_TARGET/mvn-offline.log" >&2; nl_die "offline build failed"; }
            mvn -B -q package >"$NL_TARGET/mvn.log" 2>&1 || { tail -n 40 "$NL_TARGET/mvn.log" >&2; nl_die "mvn package failed"; }
        fi
        ls "$NL_LIB"/neo4j-5*.jar >/dev/null 2>&1 || nl_die "build produced no target/lib/neo4j-*.jar"
        ls "$NL_PLUGINS"/apoc-core-*.jar >/dev/null 2>&1 || nl_die "build produced no target/plugins/apoc-core-*.jar"
        printf '%s\n' "$want" > "$stamp"
    ) 8>"$NL_TARGET/.build.lock"
}

# --- Ports -------------------------------------------------------------------
nl_port_busy() {  # something accepts connections on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

nl_free_port() {  # $1 = preferred port; prints it if free, else a kernel-chosen free one
    if [ -n "$1" ] && ! nl_port_busy "$1"; then echo "$1"; return 0; fi
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return 0
    fi
    local p i
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 30000 ))
        nl_port_busy "$p" || { echo "$p"; return 0; }
    done
    nl_die "no free port found"
}

# --- Process -------------------------------------------------------------------
nl_read_pid() { [ -f "$NL_PID_FILE" ] && tr -dc '0-9' < "$NL_PID_FILE"; }

nl_pid_is_ours() {  # $1 = pid: alive, and the CommunityEntryPoint of this run folder
    local pid="$1"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    [ -r "/proc/$pid/cmdline" ] || return 0   # no /proc: trust kill -0
    tr '\0' '\n' < "/proc/$pid/cmdline" | grep -qxF -- "--home-dir=$NL_RUN"
}

# --- Readiness -------------------------------------------------------------------
nl_bolt_answers() {  # $1 = port: a Bolt handshake gets a version back
    local port="$1"
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.settimeout(2)
# magic, then 4 proposals: 5.0-5.8 (range), 4.4, 4.3, 3
s.sendall(bytes.fromhex("6060B017" "00080805" "00000404" "00000304" "00000003"))
r = b""
while len(r) < 4:
    c = s.recv(4 - len(r))
    if not c:
        break
    r += c
sys.exit(0 if len(r) == 4 and r != b"\0\0\0\0" else 1)
PY
    else
        nl_port_busy "$port"
    fi
}

nl_http_answers() {  # $1 = port: the discovery document names the server
    local body
    if command -v curl >/dev/null 2>&1; then
        body="$(curl -fsS -m 3 "http://127.0.0.1:$1/" 2>/dev/null)" || return 1
    elif command -v python3 >/dev/null 2>&1; then
        body="$(python3 -c 'import sys,urllib.request; print(urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=3).read().decode())' "$1" 2>/dev/null)" || return 1
    else
        return 0
    fi
    case "$body" in *neo4j_version*) return 0 ;; *) return 1 ;; esac
}

# --- Config ----------------------------------------------------------------------
# JVM flags of the distribution's neo4j.conf (5.26), minus -XX:+AlwaysPreTouch (keeps the
# idle RSS low), plus -XX:+ExitOnOutOfMemoryError.
NL_JVM_ADDITIONAL=(
    -XX:+UseG1GC
    -XX:-OmitStackTraceInFastThrow
    -XX:+UnlockExperimentalVMOptions
    -XX:+TrustFinalNonStaticFields
    -XX:+DisableExplicitGC
    -Djdk.nio.maxCachedBufferSize=1024
    -Dio.netty.tryReflectionSetAccessible=true
    -Djdk.tls.ephemeralDHKeySize=2048
    -Djdk.tls.rejectClientInitiatedRenegotiation=true
    -XX:FlightRecorderOptions=stackdepth=256
    -XX:+UnlockDiagnosticVMOptions
    -XX:+DebugNonSafepoints
    --add-opens=java.base/java.nio=ALL-UNNAMED
    --add-opens=java.base/java.io=ALL-UNNAMED
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
    --enable-native-access=ALL-UNNAMED
    -Dlog4j2.disable.jmx=true
    -Dlog4j.layout.jsonTemplate.maxStringLength=32768
    -XX:+ExitOnOutOfMemoryError
)
# Extra JVM flags, space-separated (e.g. NEO4J_LOCAL_JAVA_OPTS="-XX:TieredStopAtLevel=1").
if [ -n "${NEO4J_LOCAL_JAVA_OPTS:-}" ]; then
    read -r -a _nl_extra <<< "$NEO4J_LOCAL_JAVA_OPTS"
    NL_JVM_ADDITIONAL+=("${_nl_extra[@]}")
fi
NL_HEAP_INITIAL="${NEO4J_LOCAL_HEAP_INITIAL:-512m}"
NL_HEAP_MAX="${NEO4J_LOCAL_HEAP_MAX:-1536m}"
NL_PAGECACHE="${NEO4J_LOCAL_PAGECACHE:-512m}"

nl_write_conf() {  # $1 = bolt port, $2 = http port
    mkdir -p "$NL_CONF_DIR" "$NL_RUN/data" "$NL_RUN/logs" "$NL_RUN/import" "$NL_RUN/run"
    {
        echo "# Generated by neo4j-local/start.sh or admin.sh; rewritten on every start."
        echo "server.directories.lib=$NL_LIB"
        echo "server.directories.plugins=$NL_PLUGINS"
        echo "server.directories.data=$NL_RUN/data"
        echo "server.directories.logs=$NL_RUN/logs"
        echo "server.directories.import=$NL_RUN/import"
        echo "server.directories.run=$NL_RUN/run"
        echo "server.default_listen_address=127.0.0.1"
        echo "server.default_advertised_address=127.0.0.1"
        echo "server.bolt.enabled=true"
        echo "server.bolt.tls_level=DISABLED"
        echo "server.bolt.listen_address=127.0.0.1:$1"
        echo "server.bolt.advertised_address=127.0.0.1:$1"
        echo "server.http.enabled=true"
        echo "server.http.listen_address=127.0.0.1:$2"
        echo "server.http.advertised_address=127.0.0.1:$2"
        echo "server.https.enabled=false"
        echo "dbms.security.auth_enabled=true"
        echo "dbms.security.procedures.unrestricted=apoc.*"
        echo "dbms.usage_report.enabled=false"
        echo "db.logs.query.enabled=OFF"
        # Bolt's two Netty event loops each wait a 5 s quiet period on shutdown; stop in ~3 s instead of ~13 s.
        echo "internal.dbms.bolt.netty_server_shutdown_quiet_period=0"
        echo "server.memory.heap.initial_size=$NL_HEAP_INITIAL"
        echo "server.memory.heap.max_size=$NL_HEAP_MAX"
        echo "server.memory.pagecache.size=$NL_PAGECACHE"
        local opt
        for opt in "${NL_JVM_ADDITIONAL[@]}"; do echo "server.jvm.additional=$opt"; done
    } > "$NL_CONF_DIR/neo4j.conf"
}

# The same command line that `neo4j console` builds from this neo4j.conf
# (checked against `Neo4jCommand console --dry-run`), without the extra launcher JVM.
nl_server_cmd() {
    NL_CMD=("$NL_JAVA" -cp "$NL_PLUGINS/*:$NL_CONF_DIR/*:$NL_LIB/*"
            "${NL_JVM_ADDITIONAL[@]}" ${NL_CDS_FLAGS[@]+"${NL_CDS_FLAGS[@]}"} -Dfile.encoding=UTF-8
            "-Xms$NL_HEAP_INITIAL" "-Xmx$NL_HEAP_MAX"
            org.neo4j.server.CommunityEntryPoint "--home-dir=$NL_RUN" "--config-dir=$NL_CONF_DIR")
}

# Opt-in AppCDS (NEO4J_LOCAL_CDS=1). The archive is only valid for the same JDK, flags and
# jars; the key below covers those, and a JVM that finds a mismatching archive just runs without it.
NL_CDS_DIR="$NL_TARGET/cds"
NL_CDS_ARCHIVE="$NL_CDS_DIR/neo4j.jsa"
nl_cds_key() {
    { echo "$NL_JAVA"; "$NL_JAVA" -version 2>&1; cat "$NL_TARGET/.built" 2>/dev/null
      echo "$NL_HEAP_INITIAL $NL_HEAP_MAX ${NL_JVM_ADDITIONAL[*]}"; ls -l "$NL_LIB" "$NL_PLUGINS"; } | cksum
}
nl_cds_flags() {  # sets NL_CDS_FLAGS; records what stop.sh must move into place
    NL_CDS_FLAGS=()
    nl_cds_finish 0   # a recording left by a killed server is dropped
    [ "${NEO4J_LOCAL_CDS:-0}" = 1 ] || return 0
    mkdir -p "$NL_CDS_DIR"
    local key; key="$(nl_cds_key)"
    if [ -s "$NL_CDS_ARCHIVE" ] && [ "$(cat "$NL_CDS_ARCHIVE.key" 2>/dev/null)" = "$key" ]; then
        NL_CDS_FLAGS=("-XX:SharedArchiveFile=$NL_CDS_ARCHIVE")
    else
        local tmp="$NL_CDS_DIR/neo4j.jsa.$$"
        NL_CDS_FLAGS=("-XX:ArchiveClassesAtExit=$tmp")
        printf '%s\n%s\n' "$tmp" "$key" > "$NL_RUN/cds.pending"
        nl_log "recording a CDS archive; it is written when stop.sh stops this server"
    fi
}
nl_cds_finish() {  # $1 = 1 if the server exited cleanly (TERM), else 0
    [ -f "$NL_RUN/cds.pending" ] || return 0
    local tmp key
    tmp="$(sed -n 1p "$NL_RUN/cds.pending")"; key="$(sed -n 2p "$NL_RUN/cds.pending")"
    if [ "$1" = 1 ] && [ -s "$tmp" ]; then
        mv -f "$tmp" "$NL_CDS_ARCHIVE" && printf '%s\n' "$key" > "$NL_CDS_ARCHIVE.key"
        nl_log "CDS archive written: $NL_CDS_ARCHIVE"
    else
        rm -f "$tmp"
    fi
    rm -f "$NL_RUN/cds.pending"
}

# neo4j-admin through the distribution's own launcher (Neo4jAdminCommand): it reads
# neo4j.conf and starts org.neo4j.cli.AdminTool in a child JVM with server.jvm.additional.
nl_admin() {
    NEO4J_HOME="$NL_RUN" NEO4J_CONF="$NL_CONF_DIR" \
        "$NL_JAVA" -Xmx128m -cp "$NL_LIB/*" org.neo4j.server.startup.Neo4jAdminCommand "$@"
}
