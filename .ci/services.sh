#!/usr/bin/env bash
# Makes sure the PostgreSQL and MariaDB servers the database tests use are running
# (start commands from the machine's documentation). Never fails by itself: the tests
# report a missing server clearly, and fail in CI.
set -u

wait_for() {  # name, command
  for _ in $(seq 1 30); do
    if eval "$2" >/dev/null 2>&1; then echo "== $1 is up"; return 0; fi
    sleep 1
  done
  echo "== $1 did not come up"
  return 1
}

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "== starting PostgreSQL"
  if [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  wait_for PostgreSQL "pg_isready -q -h 127.0.0.1 -p 5432" || true
fi

if ! mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
  echo "== starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  wait_for MariaDB "mysqladmin -h 127.0.0.1 -u root ping" || true
fi
exit 0
