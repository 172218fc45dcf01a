#!/bin/sh
# Installs everything heartbeatd's build and tests need on a fresh Debian 12
# machine that has Go (>= 1.26) in /usr/local/go. Safe to run again.
set -eu

export DEBIAN_FRONTEND=noninteractive
PATH=/usr/local/go/bin:$PATH

# Packages:
#   heartbeat         real Heartbeat 3.0.6 for the interop tests, and Debian's
#                     stock resource.d scripts the executor must run
#   drbd-utils        its stock drbddisk script (driven by tests/fakes/drbdadm:
#                     this kernel has no DRBD)
#   iproute2 nftables network namespaces, veth, bridges; link cuts and loss
#   socat             pty pairs for the serial medium
#   tcpdump, iputils-arping, psmisc  watching ARP, killing process trees
#   tgt rsyslog e2fsprogs  iSCSI target, syslog, ext2/ext4 for the resource tests
#   make git          build
#   debhelper dpkg-dev lintian debootstrap groff-base man-db
#                     the Debian package, its lintian check, the install test
#                     in a fresh bookworm chroot, and the man pages
#   cluster-glue fence-agents  the real stonith program and fence_dummy that
#                     internal/fence and `heartbeatd check` are tested against
#   pacemaker pacemaker-cli-utils corosync resource-agents  `export pacemaker` tests (crm_verify, crm_simulate, corosync -t)
PKGS="pacemaker pacemaker-cli-utils corosync resource-agents cluster-glue fence-agents heartbeat drbd-utils systemd sysvinit-utils debhelper dpkg-dev lintian debootstrap groff-base man-db iproute2 nftables socat tcpdump iputils-arping psmisc tgt rsyslog e2fsprogs make git procps"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	# Never let a package's maintainer script start a service (heartbeat,
	# tgt, rsyslog) on the test machine: tests start their own instances in
	# namespaces.
	policy=/usr/sbin/policy-rc.d
	created=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created=yes
	fi
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
	if [ -n "$created" ]; then rm -f "$policy"; fi
fi

cd "$(dirname "$0")/.."
go mod download
