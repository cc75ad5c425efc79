#!/usr/bin/env bash
# neo4j-admin for the local server: same classpath (target/lib) and the run folder's
# neo4j.conf (written here with default ports if no start has written one yet).
#   neo4j-local/admin.sh dbms set-initial-password SECRET
#   neo4j-local/admin.sh database import full neo4j --overwrite-destination --nodes=...
# Offline commands (import, dump, load, check) need the server of that run folder stopped:
# use a second run folder (NEO4J_LOCAL_RUN=/tmp/x), then NEO4J_LOCAL_KEEP_DATA=1 start.sh
# to serve it. See README.md.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

nl_pick_java
nl_build
[ -f "$NL_CONF_DIR/neo4j.conf" ] || nl_write_conf "${NEO4J_LOCAL_BOLT_PORT:-7687}" "${NEO4J_LOCAL_HTTP_PORT:-7474}"
mkdir -p "$NL_RUN/data" "$NL_RUN/logs" "$NL_RUN/import" "$NL_RUN/run"
nl_admin "$@"
