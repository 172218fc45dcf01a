#!/bin/bash
# heartbeatd failover demo: two cluster nodes and a client in network
# namespaces, two heartbeat links, a floating IP and a small service on it.
# Two faults, each with a timeline of the failover as the client sees it:
#   1. crash: node1's heartbeatd is killed with -9, nothing else: node1 stays
#      up, keeps the floating IP configured and its kernel still answers ARP
#      for it; node2 takes over anyway.
#   2. power-off: node1 is restarted as standby, then node2 (now active) is
#      "powered off" (daemon killed with -9, its links cut); node1 takes over.
#
# Usage (root): make demo        (or: BIN=path/to/heartbeatd tests/demo/run.sh)
# It creates only namespaces named hbdemo<random>-*, and removes them on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../../bin/heartbeatd}
BIN=$(readlink -f "$BIN")
[ "$(id -u)" = 0 ] || { echo "demo: run as root (network namespaces)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "demo: $BIN not built (make build)" >&2; exit 1; }
for tool in ip socat arping; do
	command -v $tool >/dev/null || { echo "demo: $tool missing: run tests/install-deps.sh" >&2; exit 1; }
done

P=hbdemo$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
O=$((64 + RANDOM % 128))         # 10.O.1.0/24 (link 1, client), 10.O.2.0/24 (link 2)
VIP=10.$O.1.100
WORK=$(mktemp -d /tmp/heartbeatd-demo.XXXXXX)
PIDS=()

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for ns in n1 n2 client sw; do
		for p in $(ip netns pids $P-$ns 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del $P-$ns 2>/dev/null
	done
	if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "logs kept in $WORK"; fi
}
trap cleanup EXIT INT TERM

ms() { date +%s%3N; }
T0=0
say() { printf '%8s  %s\n' "$1" "$2"; }
stamp() { local now; now=$(ms); printf '+%dms' $((now - T0)); }

echo "== building the lab ($P: node1, node2, client; links 10.$O.1.0/24 and 10.$O.2.0/24)"
for ns in sw n1 n2 client; do ip netns add $P-$ns; ip -n $P-$ns link set lo up; done
for b in 1 2; do
	ip -n $P-sw link add br$b type bridge stp_state 0 forward_delay 0
	ip -n $P-sw link set br$b up
done
plug() { # ns ifname bridge host
	ip -n $P-sw link add v$1$3 type veth peer name $2 netns $P-$1
	ip -n $P-sw link set v$1$3 master br$3 up
	ip -n $P-$1 addr add 10.$O.$3.$4/24 brd + dev $2
	ip -n $P-$1 link set $2 up
}
plug n1 eth1 1 1; plug n1 eth2 2 1
plug n2 eth1 1 2; plug n2 eth2 2 2
plug client eth1 1 200

for n in 1 2; do
	d=$WORK/node$n
	mkdir -p $d/ha.d/resource.d $d/run $d/state
	cat > $d/ha.d/ha.cf <<CF
logfile $d/ha-log
keepalive 100ms
deadtime 500ms
warntime 300ms
initdead 3
bcast eth1 eth2
auto_failback off
node node1 node2
CF
	printf 'auth 1\n1 sha1 demo-%s\n' "$P" > $d/ha.d/authkeys
	chmod 600 $d/ha.d/authkeys
	echo "node1 IPaddr::$VIP/24/eth1 demoweb" > $d/ha.d/haresources
	# IPaddr: heartbeatd's native agent when it is built in, else Debian's.
	if "$BIN" resource --help 2>&1 | grep -qw IPaddr && [ -f "$here/../../resource.d/IPaddr" ]; then
		install -m 755 "$here/../../resource.d/IPaddr" $d/ha.d/resource.d/IPaddr
	else
		ln -s /etc/ha.d/resource.d/IPaddr $d/ha.d/resource.d/IPaddr
	fi
	install -m 755 "$here/demoweb" $d/ha.d/resource.d/demoweb
done

# --reboot-command /bin/true --reboot-force-after 0: the nodes share this machine's kernel, so a
# resource that fails to stop must not reboot the host (stop_failure reboot).
start_node() { # n
	local d=$WORK/node$1
	HEARTBEATD_NO_STDERR=1 ip netns exec $P-n$1 "$BIN" -f --confdir $d/ha.d --rundir $d/run \
		--statedir $d/state --node node$1 --reboot-command /bin/true --reboot-force-after 0 >/dev/null 2>&1 &
	PIDS+=($!)
	eval "PID$1=$!"
	disown $!
}
cls() { "$BIN" cl_status --rundir $WORK/node$1/run "${@:2}" 2>/dev/null || true; }

echo "== starting heartbeatd on node1 and node2"
start_node 1; start_node 2
echo "   (both start together: as in Heartbeat, they wait up to 10 s for each other's resource announcement)"
for i in $(seq 1 600); do
	[ "$(cls 1 rscstatus)" = local ] && [ "$(cls 2 rscstatus)" = local ] && break
	sleep 0.05
done
[ "$(cls 1 rscstatus)" = local ] || { echo "demo: node1 did not acquire its group"; cat $WORK/node1/ha-log; exit 1; }
ask() { ip netns exec $P-client socat -T1 - TCP:$VIP:8080,connect-timeout=1 </dev/null 2>/dev/null || true; }
mac_of() { ip -n $P-$1 link show eth1 | awk '/link\/ether/ {print $2}'; }
M1=$(mac_of n1); M2=$(mac_of n2)
ANSWER=$(ask)
echo "   node1 holds $VIP (eth1 $M1), node2 is standby (eth1 $M2)"
echo "   client asks $VIP:8080 -> \"$ANSWER\""
sleep 5.5   # past the 5 s start-up period in which deadtime is advertised +2 s

neigh_mac() { ip -n $P-client neigh show $VIP | awk '{for(i=1;i<NF;i++) if($i=="lladdr") print $(i+1)}'; }

# watch_takeover NAME A B: the timeline of node B taking over from node A,
# as node B's cl_status and the client see it; T0 is the fault, MARK the
# length of node B's log before it. The times go to SUMMARY.
SUMMARY=()
watch_takeover() {
	local name=$1 a=$2 b=$3 mb dead="" took="" arp="" served="" ans
	mb=$(mac_of n$b)
	while [ $(( $(ms) - T0 )) -lt 15000 ]; do
		[ -z "$dead" ] && [ "$(cls $b nodestatus node$a)" = dead ] && { dead=$(stamp); say "$dead" "node$b: node$a is dead"; }
		[ -z "$took" ] && [ "$(cls $b rscstatus)" = all ] && { took=$(stamp); say "$took" "node$b: holds all resources (takeover complete)"; }
		if [ -z "$arp" ] && [ "$(neigh_mac)" = "$mb" ]; then
			arp=$(stamp); say "$arp" "client: $VIP is at $mb (node$b's MAC, from its gratuitous ARP)"
		fi
		if [ -n "$took" ] && [ -z "$served" ]; then
			ans=$(ask); case "$ans" in *node$b*) served=$(stamp); say "$served" "client: $VIP:8080 answers \"$ans\"";; esac
		fi
		[ -n "$dead" ] && [ -n "$took" ] && [ -n "$arp" ] && [ -n "$served" ] && break
		sleep 0.01
	done
	echo
	tail -n +$((MARK + 1)) $WORK/node$b/ha-log |
		grep -E 'is dead|Taking over|Acquiring resource group|Running .* start|still answered|takeover complete' |
		sed -e "s/^/   node$b log: /" | head -n 12 || true
	echo
	if [ -z "$dead" ] || [ -z "$took" ] || [ -z "$arp" ] || [ -z "$served" ]; then
		echo "== failover INCOMPLETE (dead=$dead takeover=$took arp=$arp served=$served); logs: $WORK"; KEEP=1; exit 1
	fi
	echo "== failover complete: the client reaches the service on node$b"
	SUMMARY+=("$(printf '%-10s %-8s %-10s %-13s %s' "$name" "node$b" "$dead" "$arp" "$served")")
}

echo "== 1. crash: kill -9 node1's heartbeatd only (node1 stays up with $VIP)"
MARK=$(wc -l < $WORK/node2/ha-log)
T0=$(ms)
kill -9 $PID1
say "+0ms" "fault: node1's heartbeatd killed"
if ip -n $P-n1 -o addr show dev eth1 | grep -q " $VIP/"; then
	say "$(stamp)" "node1 still has $VIP configured and its kernel answers ARP for it"
fi
watch_takeover crash 1 2

echo
echo "== node1 comes back: reboot it (its leftovers gone), start heartbeatd; it joins as standby"
for p in $(ip netns pids $P-n1); do kill -9 "$p" 2>/dev/null || true; done
ip -n $P-n1 addr flush dev eth1 label 'eth1:*'
rm -f /tmp/demoweb-node1.pid
start_node 1
for i in $(seq 1 300); do
	[ "$(cls 1 nodestatus node2)" = active ] && [ "$(cls 1 rscstatus)" = none ] && [ "$(cls 2 rscstatus)" = all ] && break
	sleep 0.05
done
[ "$(cls 1 rscstatus)" = none ] || { echo "demo: node1 did not rejoin as standby"; KEEP=1; exit 1; }
echo "   node1 standby, node2 holds $VIP; client asks $VIP:8080 -> \"$(ask)\""

echo
echo "== 2. power-off: kill -9 node2's heartbeatd and cut both its links"
MARK=$(wc -l < $WORK/node1/ha-log)
T0=$(ms)
kill -9 $PID2
ip -n $P-n2 link set eth1 down; ip -n $P-n2 link set eth2 down
say "+0ms" "fault: node2 gone"
watch_takeover power-off 2 1

echo
echo "== summary (times from the fault)"
printf '   %-10s %-8s %-10s %-13s %s\n' fault "new node" "dead at" "ARP moved at" "service answered from the new node at"
for line in "${SUMMARY[@]}"; do echo "   $line"; done
