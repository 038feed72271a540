#!/usr/bin/env bash
# Install and start what the tests need on a fresh machine: Debian's prometheus,
# promtool, alertmanager and amtool, PostgreSQL and Redis on 127.0.0.1, and headless
# chromium. Idempotent and quick when everything is already there.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v wrk >/dev/null 2>&1 || need+=(wrk)  # load generator of benchmarks/bench_uvicorn
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # self-signed certs of the TLS probe tests
# blackbox_exporter, the reference the embedded probes are tested against.
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || need+=(prometheus-blackbox-exporter)
# Headless chromium for the RUM (and console) browser tests, driven by Playwright with
# executable_path=/usr/bin/chromium: Playwright never downloads a browser of its own.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)

if [ "${#need[@]}" -gt 0 ]; then
  echo "setup-system: installing ${need[*]}"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

# Debian's packages start their own daemons where systemd runs; here we only want
# the binaries, so stop any packaged prometheus/alertmanager that would hold ports.
# Only the packaged daemons: they run as the package's user 'prometheus'; the
# servers tests and benchmarks start (as this user) are never touched.
if id prometheus >/dev/null 2>&1; then
  for svc in prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter; do
    $SUDO pkill -u prometheus -f "/usr/bin/$svc( |$)" >/dev/null 2>&1 || true
  done
fi

# PostgreSQL on 127.0.0.1:5432 with a 'test' database reachable as postgres.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    $SUDO pg_createcluster "$ver" main >/dev/null
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
fi
if [ "$(id -u)" -eq 0 ]; then
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1 \
    || su postgres -c "createdb test" || true
fi

# Redis on 127.0.0.1:6379, keeping nothing on disk.
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  mkdir -p /tmp/wk-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/wk-redis --logfile /tmp/wk-redis/redis.log
  for _ in $(seq 1 30); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.2; done
fi
echo "setup-system: promtool $(promtool --version 2>&1 | head -n1 | awk '{print $3}'), amtool ok, postgres and redis up"
