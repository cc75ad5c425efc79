#!/usr/bin/env bash
# Stop the local Neo4j of this run folder (TERM, wait, then KILL) and remove the env file.
# Exit 0 when nothing runs. Same environment as start.sh (NEO4J_LOCAL_RUN, NEO4J_LOCAL_ENV).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

GRACE="${NEO4J_LOCAL_STOP_TIMEOUT:-60}"
clean=0

if [ -d "$NL_RUN" ]; then
    exec 9>"$NL_RUN/.lock"
    flock -w 600 9 || nl_die "another start/stop holds $NL_RUN/.lock"
fi

pid="$(nl_read_pid || true)"
if nl_pid_is_ours "$pid"; then
    nl_log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( SECONDS + GRACE ))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        nl_log "pid $pid still alive after ${GRACE}s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    else
        clean=1
    fi
    nl_log "stopped"
elif [ -n "$pid" ]; then
    nl_log "pid $pid is not running (stale pid file removed)"
else
    nl_log "not running"
fi
nl_cds_finish "$clean"
rm -f "$NL_PID_FILE" "$NL_ENV_FILE" "$NL_STATE_FILE"
exit 0
