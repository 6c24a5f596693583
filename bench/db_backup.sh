#!/usr/bin/env bash
# bench/db_backup.sh [SIZE_MB] [ROUNDS]: db_backup against the engines' raw dump
# commands, on the servers at 127.0.0.1:5432 (postgres) and :3306 (root).
#
# Builds once, and reuses on later runs, a database of about SIZE_MB megabytes
# (default 1024) in each engine: ops_bench_<SIZE_MB>mb, one table of rows with
# text that compresses about as well as real data. Each round times:
#   PostgreSQL  raw pg_dump -Fc | db_backup dump (custom) | db_backup verify
#               | raw pg_dump -Fd -j2 | db_backup dump (directory, jobs 2)
#   MySQL       raw mariadb-dump --single-transaction | gzip
#               | db_backup dump | db_backup verify
# and prints the median of each and the ratios: db_backup dump vs its raw
# command (a db_backup dump includes counting rows, reading the archive's table
# of contents or the completion line, and the sha256), verify on its own, and
# directory format with 2 jobs vs single-threaded custom format. The runs of a
# round are interleaved so load on the machine hits them alike. Timings stay
# here; no test asserts on them. Drop the databases with
# DROP DATABASE ops_bench_<SIZE_MB>mb when done.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
SIZE_MB=${1:-1024}
ROUNDS=${2:-3}
eval "$(scripts/setup.sh --print-env 2>/dev/null)"
DB="ops_bench_${SIZE_MB}mb"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PSQL=(psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres)
MARIADB=(mariadb -N -B -h 127.0.0.1 -u root)
# A row is about 1 kB: an id and md5 text, repeated (gzip gets about 2:1 on it, as on real tables).
ROWS=$((SIZE_MB * 1024))

build_postgresql() {
  if [ "$("${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" = 1 ]; then return; fi
  echo "bench: building $DB in PostgreSQL (${SIZE_MB} MB)..." >&2
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
  "${PSQL[@]}" -d "$DB" -c "CREATE TABLE events (id bigint PRIMARY KEY, body text)" \
    -c "INSERT INTO events SELECT g, repeat(md5(g::text) || md5((g * 7)::text), 16) FROM generate_series(1, $ROWS) g" \
    -c "CREATE TABLE customers AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, $((ROWS / 10 + 1))) g"
}

build_mysql() {
  if [ -n "$("${MARIADB[@]}" -e "SELECT 1 FROM information_schema.schemata WHERE schema_name = '$DB'")" ]; then return; fi
  echo "bench: building $DB in MariaDB (${SIZE_MB} MB)..." >&2
  "${MARIADB[@]}" -e "CREATE DATABASE $DB"
  "${MARIADB[@]}" "$DB" -e "CREATE TABLE events (id bigint PRIMARY KEY, body text) ENGINE=InnoDB;
    INSERT INTO events SELECT seq, repeat(concat(md5(seq), md5(seq * 7)), 16) FROM seq_1_to_$ROWS;
    CREATE TABLE customers ENGINE=InnoDB AS SELECT seq AS id, md5(seq) AS name FROM seq_1_to_$((ROWS / 10 + 1))"
}

# The module run the way Ansible runs a module: a python process, the arguments as JSON.
cat >"$WORK/module.py" <<'EOF'
import json, sys
from ansible.module_utils.testing import patch_module_args
from ansible_collections.ops.rollback.plugins.modules import db_backup
with patch_module_args(json.loads(sys.argv[1])):
    db_backup.main()
EOF

module() {  # module JSON-ARGS: run db_backup, print its result
  PYTHONPATH="$REPO/.collections" python "$WORK/module.py" "$1"
}

seconds() {  # seconds COMMAND...: wall time of the command, which must succeed
  local start end
  start=$(date +%s.%N)
  "$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; echo "bench: $* failed" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f\n", b - a}'
}

PG='"engine": "postgresql", "login_host": "127.0.0.1", "login_user": "postgres"'
MY='"engine": "mysql", "login_host": "127.0.0.1", "login_user": "root"'

pg_raw() { rm -rf "$WORK/raw.dump"; PGHOST=127.0.0.1 PGUSER=postgres pg_dump -Fc -f "$WORK/raw.dump" "$DB"; }
pg_raw_dir() { rm -rf "$WORK/raw.dir"; PGHOST=127.0.0.1 PGUSER=postgres pg_dump -Fd -j 2 -f "$WORK/raw.dir" "$DB"; }
pg_dump_custom() { rm -rf "$WORK/pg"; module "{$PG, \"db\": \"$DB\", \"dest\": \"$WORK/pg\"}" >"$WORK/pg.json"; }
pg_verify() {
  local path
  path=$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["path"])' "$WORK/pg.json")
  module "{$PG, \"state\": \"verify\", \"src\": \"$path\"}"
}
pg_dump_dir() { rm -rf "$WORK/pgdir"; module "{$PG, \"db\": \"$DB\", \"dest\": \"$WORK/pgdir\", \"format\": \"directory\", \"jobs\": 2}"; }
my_raw() { mariadb-dump -h 127.0.0.1 -u root --single-transaction --quick "$DB" | gzip -6 >"$WORK/raw.sql.gz"; }
my_dump() { rm -rf "$WORK/my"; module "{$MY, \"db\": \"$DB\", \"dest\": \"$WORK/my\"}" >"$WORK/my.json"; }
my_verify() {
  local path
  path=$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["path"])' "$WORK/my.json")
  module "{$MY, \"state\": \"verify\", \"src\": \"$path\"}"
}

build_postgresql
build_mysql
RUNS=(pg_raw pg_dump_custom pg_verify pg_raw_dir pg_dump_dir my_raw my_dump my_verify)
for what in "${RUNS[@]}"; do : >"$WORK/t.$what"; done
set -o pipefail
for round in $(seq 1 "$ROUNDS"); do
  line="round $round:"
  for what in "${RUNS[@]}"; do
    seconds "$what" >>"$WORK/t.$what"
    line="$line $what $(tail -n1 "$WORK/t.$what")"
  done
  echo "$line" >&2
done

median() { sort -n "$WORK/t.$1" | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
declare -A M
# Fresh table statistics, so the size below is what is on disk now.
"${MARIADB[@]}" "$DB" -e "ANALYZE TABLE events, customers" >/dev/null
for what in "${RUNS[@]}"; do M[$what]=$(median "$what"); done
printf '\n%s (%s MB requested; PostgreSQL %s, MariaDB %s on disk), %d rounds, medians:\n' "$DB" "$SIZE_MB" \
  "$("${PSQL[@]}" -d "$DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")" \
  "$("${MARIADB[@]}" -e "SELECT CONCAT(ROUND(SUM(data_length + index_length) / 1048576), ' MB') FROM information_schema.tables WHERE table_schema = '$DB'")" \
  "$ROUNDS"
printf '  PostgreSQL raw pg_dump -Fc                 %7.2f s\n' "${M[pg_raw]}"
printf '  PostgreSQL db_backup dump (custom)         %7.2f s  %sx raw pg_dump\n' "${M[pg_dump_custom]}" "$(ratio "${M[pg_dump_custom]}" "${M[pg_raw]}")"
printf '  PostgreSQL db_backup verify                %7.2f s  %sx raw pg_dump\n' "${M[pg_verify]}" "$(ratio "${M[pg_verify]}" "${M[pg_raw]}")"
printf '  PostgreSQL raw pg_dump -Fd -j2             %7.2f s  %sx raw pg_dump -Fc\n' "${M[pg_raw_dir]}" "$(ratio "${M[pg_raw_dir]}" "${M[pg_raw]}")"
printf '  PostgreSQL db_backup dump (directory, j2)  %7.2f s  %sx db_backup custom\n' "${M[pg_dump_dir]}" "$(ratio "${M[pg_dump_dir]}" "${M[pg_dump_custom]}")"
printf '  MySQL raw mariadb-dump | gzip              %7.2f s\n' "${M[my_raw]}"
printf '  MySQL db_backup dump                       %7.2f s  %sx raw mariadb-dump | gzip\n' "${M[my_dump]}" "$(ratio "${M[my_dump]}" "${M[my_raw]}")"
printf '  MySQL db_backup verify                     %7.2f s  %sx raw mariadb-dump | gzip\n' "${M[my_verify]}" "$(ratio "${M[my_verify]}" "${M[my_raw]}")"
