#!/bin/bash
# Runs once, on the source's first start (docker-entrypoint-initdb.d): the replication and backup accounts.
# Passwords come from the environment (docker-compose.yml), never from a file in the repository.
set -euo pipefail
mysql --protocol=socket -uroot -p"$MYSQL_ROOT_PASSWORD" <<SQL
CREATE USER 'repl'@'%' IDENTIFIED BY '${MYSQL8_REPLICATION_PASSWORD}';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
-- What XtraBackup 8.0 and restoretest's baseline need on the backup replica.
CREATE USER 'backup'@'%' IDENTIFIED BY '${MYSQL8_BACKUP_PASSWORD}';
GRANT SELECT, RELOAD, PROCESS, LOCK TABLES, REPLICATION CLIENT, REPLICATION_SLAVE_ADMIN, BACKUP_ADMIN, SHOW VIEW, EVENT, TRIGGER ON *.* TO 'backup'@'%';
GRANT SELECT, INSERT, CREATE, ALTER ON performance_schema.* TO 'backup'@'%';
SQL
