#!/usr/bin/env bash
# Installs what sdnapp needs on Debian 12 (as root) and starts Open vSwitch.
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium and chromium-driver: the live page's test in a real (headless) browser; fonts-dejavu-core its text.
# postgresql: the store several sdnapp instances share (store.url), and the tests' second engine.
# udhcpc (busybox's DHCP client): the test VMs take their leases from sdnapp's DHCP with it.
# iperf3: testbeds/bench_nat.py's TCP stream through the NAT and without it.
# curl: the NAT testbeds' and the demo's fetches from VMs and from the outside host.
packages=(postgresql openvswitch-switch python3-openvswitch ovn-central ovn-host mininet ethtool tcpdump socat iproute2 iputils-ping python3-venv python3-dev chromium chromium-driver fonts-dejavu-core udhcpc iperf3 curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's mininet lives in the system Python's site-packages: the venv is made
# from /usr/bin/python3 with system site packages so it sees both.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
if ! .venv/bin/python -c "import sdnapp, pytest, scapy, prometheus_client, rich, selenium" 2>/dev/null \
    || [ setup.py -nt .venv/.installed ]; then
  echo "setup: installing sdnapp and its test tools into .venv"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[test]' >/dev/null
  touch .venv/.installed
fi

# Open vSwitch: these machines have no kernel module; bridges use the userspace
# datapath, which needs only the daemons.
if ! ovs-vsctl --timeout=2 show >/dev/null 2>&1; then
  echo "setup: starting Open vSwitch"
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >/dev/null 2>&1 || true
  ovs-vsctl --timeout=10 show >/dev/null
fi

# PostgreSQL: Debian's package makes a cluster (pg_createcluster) and these machines have no systemd to
# start it, so it is started here; then a role and a database for the tests (which make and drop
# databases of their own through it), sorted bytewise (C) like SQLite so both engines list alike.
if [ -z "$(pg_lsclusters -h)" ]; then
  pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -1)" main >/dev/null
fi
read -r pg_version pg_cluster pg_port pg_status _ < <(pg_lsclusters -h | head -1)
if [ "$pg_status" != "online" ]; then
  echo "setup: starting PostgreSQL $pg_version/$pg_cluster on port $pg_port"
  pg_ctlcluster "$pg_version" "$pg_cluster" start
fi
pg() { runuser -u postgres -- psql -p "$pg_port" -qtA "$@"; }
if [ "$(pg -c "SELECT 1 FROM pg_roles WHERE rolname = 'sdnapp'")" != "1" ]; then
  pg -c "CREATE ROLE sdnapp LOGIN CREATEDB PASSWORD 'sdnapp'"
fi
if [ "$(pg -c "SELECT 1 FROM pg_database WHERE datname = 'sdnapp'")" != "1" ]; then
  pg -c "CREATE DATABASE sdnapp OWNER sdnapp TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
fi
