#!/usr/bin/env bash
# Start a local Neo4j 5.26 Community server (APOC core, Browser) on 127.0.0.1 and write
# KG_NEO4J_URI / KG_NEO4J_USER / KG_NEO4J_PASSWORD / KG_NEO4J_HTTP into the env file.
# Idempotent: exits 0 at once when this run folder's server is already up.
# Options by environment: see common.sh (NEO4J_LOCAL_RUN, NEO4J_LOCAL_ENV, ports, memory).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mkdir -p "$NL_RUN"
exec 9>"$NL_RUN/.lock"
flock -w 600 9 || nl_die "another start/stop holds $NL_RUN/.lock"

TIMEOUT="${NEO4J_LOCAL_TIMEOUT:-180}"

publish_env() {  # copy the instance's lines to the env file (atomically)
    local tmp
    mkdir -p "$(dirname "$NL_ENV_FILE")"
    tmp="$(mktemp "$NL_ENV_FILE.XXXXXX")"
    cat "$NL_STATE_FILE" > "$tmp"
    chmod 600 "$tmp"
    mv -f "$tmp" "$NL_ENV_FILE"
}

state_get() { sed -n "s/^$1=//p" "$NL_STATE_FILE" 2>/dev/null | head -n1; }

wait_ready() {  # $1 pid, $2 bolt port, $3 http port, $4 seconds; 0 when both answer
    local pid="$1" deadline=$(( SECONDS + $4 ))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$pid" 2>/dev/null || return 2
        # The ports answering is not enough: another server may hold a port chosen as
        # free a moment ago. Only this run folder's own log saying "Started." proves
        # that the answers come from the server we launched.
        if nl_bolt_answers "$2" && nl_http_answers "$3" \
           && grep -q 'INFO  Started\.' "$NL_RUN/logs/neo4j.log" 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    return 1
}

# --- Already running? --------------------------------------------------------
pid="$(nl_read_pid || true)"
if nl_pid_is_ours "$pid" && [ -f "$NL_STATE_FILE" ]; then
    bolt="$(state_get KG_NEO4J_URI)"; bolt="${bolt##*:}"
    http="$(state_get KG_NEO4J_HTTP)"; http="${http##*:}"
    if wait_ready "$pid" "$bolt" "$http" "$TIMEOUT"; then
        publish_env
        nl_log "already running (pid $pid, bolt 127.0.0.1:$bolt, http 127.0.0.1:$http)"
        exit 0
    fi
    nl_log "pid $pid is not answering; restarting it"
    kill -KILL "$pid" 2>/dev/null || true
    nl_cds_finish 0
fi
if [ -n "$pid" ] && ! nl_pid_is_ours "$pid"; then
    # A server just killed (-9) can still be tearing down its memory, with its ports open
    # and an empty cmdline: give it up to 15 s to vanish so that the same ports come free.
    for _ in $(seq 1 75); do
        kill -0 "$pid" 2>/dev/null || break
        comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
        [ -z "$comm" ] || [ "$comm" = java ] || break   # pid reused by something else
        sleep 0.2
    done
    nl_log "removing stale pid file (pid $pid is gone)"
fi
rm -f "$NL_PID_FILE"

# --- Prepare -------------------------------------------------------------------
nl_pick_java
nl_build

started=$SECONDS
attempt=0
while :; do
    attempt=$(( attempt + 1 ))
    bolt="$(nl_free_port "${NEO4J_LOCAL_BOLT_PORT:-7687}")"
    http="$(nl_free_port "${NEO4J_LOCAL_HTTP_PORT:-7474}")"
    [ "$bolt" != "$http" ] || http="$(nl_free_port "")"
    if [ -n "${NEO4J_LOCAL_BOLT_PORT:-}" ] && [ "$bolt" != "$NEO4J_LOCAL_BOLT_PORT" ]; then
        nl_die "NEO4J_LOCAL_BOLT_PORT=$NEO4J_LOCAL_BOLT_PORT is taken"
    fi
    if [ -n "${NEO4J_LOCAL_HTTP_PORT:-}" ] && [ "$http" != "$NEO4J_LOCAL_HTTP_PORT" ]; then
        nl_die "NEO4J_LOCAL_HTTP_PORT=$NEO4J_LOCAL_HTTP_PORT is taken"
    fi

    keep=0
    if [ "${NEO4J_LOCAL_KEEP_DATA:-0}" = 1 ]; then keep=1; fi
    if [ "$keep" = 0 ]; then
        rm -rf "$NL_RUN/data" "$NL_RUN/logs" "$NL_RUN/run"
    else
        rm -rf "$NL_RUN/logs" "$NL_RUN/run"
    fi
    nl_write_conf "$bolt" "$http"

    # Password: new and random unless kept data already has a started system database.
    password=""
    if [ "$keep" = 1 ] && [ -d "$NL_RUN/data/databases/system" ]; then
        password="$(cat "$NL_RUN/password" 2>/dev/null || true)"
        [ -n "$password" ] || nl_die "kept data has a system database but no $NL_RUN/password"
    else
        password="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
        rm -rf "$NL_RUN/data/dbms"
        NEO4J_HOME="$NL_RUN" NEO4J_CONF="$NL_CONF_DIR" \
            "$NL_JAVA" -Xmx256m "${NL_JVM_ADDITIONAL[@]}" -cp "$NL_LIB/*" \
            org.neo4j.cli.AdminTool dbms set-initial-password "$password" \
            >"$NL_RUN/logs/set-initial-password.log" 2>&1 \
            || { cat "$NL_RUN/logs/set-initial-password.log" >&2; nl_die "set-initial-password failed"; }
        ( umask 077; printf '%s\n' "$password" > "$NL_RUN/password" )
    fi
    {
        echo "KG_NEO4J_URI=bolt://127.0.0.1:$bolt"
        echo "KG_NEO4J_USER=neo4j"
        echo "KG_NEO4J_PASSWORD=$password"
        echo "KG_NEO4J_HTTP=http://127.0.0.1:$http"
    } > "$NL_STATE_FILE"
    chmod 600 "$NL_STATE_FILE"

    # --- Launch ---------------------------------------------------------------
    nl_cds_flags
    nl_server_cmd
    cd "$NL_RUN"
    nohup setsid "${NL_CMD[@]}" >"$NL_RUN/logs/stdout.log" 2>&1 < /dev/null 9>&- &
    pid=$!
    echo "$pid" > "$NL_PID_FILE"
    nl_log "started pid $pid (bolt 127.0.0.1:$bolt, http 127.0.0.1:$http); waiting up to ${TIMEOUT}s"

    rc=0; wait_ready "$pid" "$bolt" "$http" "$TIMEOUT" || rc=$?
    if [ "$rc" = 0 ]; then
        publish_env
        nl_log "ready after $(( SECONDS - started ))s; env in $NL_ENV_FILE"
        exit 0
    fi
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$NL_PID_FILE"
    nl_cds_finish 0
    if [ "$rc" = 2 ] && [ "$attempt" -lt 3 ] \
       && grep -qiE 'address already in use|BindException' "$NL_RUN/logs/stdout.log" "$NL_RUN/logs/neo4j.log" 2>/dev/null \
       && [ -z "${NEO4J_LOCAL_BOLT_PORT:-}${NEO4J_LOCAL_HTTP_PORT:-}" ]; then
        nl_log "a port was taken meanwhile; retrying with other ports"
        continue
    fi
    tail -n 40 "$NL_RUN/logs/stdout.log" >&2 || true
    [ "$rc" = 2 ] && nl_die "server exited during startup (logs: $NL_RUN/logs)"
    nl_die "server not ready after ${TIMEOUT}s (logs: $NL_RUN/logs)"
done
