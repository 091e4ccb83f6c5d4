#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages: PostgreSQL 15 with pgAudit from
# Debian (the suite's second server version; PostgreSQL 18 comes from npm) and its client
# tools (pgbench for `npm run bench:guard`), openssl (the monitor tests make a TLS
# certificate), nats-server (the fleet tests and `npm run bench:fleet` start a NATS server
# with JetStream), chromium (the dashboard's browser tests drive it with playwright-core), and
# the monitoring consumers the monitor tests feed: promtool (prometheus), Monitoring::Plugin
# (libmonitoring-plugin-perl), pgbouncer (the pgbouncer checks), check_postgres (npm run
# bench:monitor), a Zabbix server with zabbix_sender (zabbix-server-pgsql, zabbix-agent),
# rsyslog (the syslog sink's test starts its own rsyslogd on free ports) with rsyslog-gnutls (the
# syslog source's test has rsyslogd forward over TLS), pgJDBC with a JDK (the guard's tests and
# `npm run bench:guard-jdbc` run the real driver), and pgauditlogtofile (the pgauditlogtofile
# parser's test reads the audit file of a real server).
# Installs as root, through sudo when not root.
# Idempotent: it does nothing when everything is there already.
set -euo pipefail

packages=(postgresql-15 postgresql-15-pgaudit postgresql-client-15 postgresql-contrib openssl nats-server chromium
  prometheus libmonitoring-plugin-perl pgbouncer check-postgres zabbix-server-pgsql zabbix-agent rsyslog rsyslog-gnutls
  libpostgresql-jdbc-java openjdk-17-jdk-headless postgresql-15-pgauditlogtofile)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies present: ${packages[*]}"
  exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "missing Debian packages: ${missing[*]}; run this script as root" >&2
    exit 1
  fi
  as_root=(sudo)
fi
echo "installing: ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
