// Package pacemaker turns a heartbeatd configuration (ha.cf and
// haresources, as internal/reload reads them) into what a Pacemaker 2.1 +
// Corosync 3 cluster needs to run the same services: a CIB (XML), the same
// configuration as crm shell commands, and a corosync.conf. It is pure:
// configuration in, text out; the heartbeatd export command does the
// reading and writing.
//
// The mapping, one haresources line at a time:
//
//   - each line becomes a group (id g_<key>) of primitives in the line's
//     order, with a location preference of HomeScore for its home node;
//   - IPaddr and IPaddr2 (and the bare IP shorthand) become
//     ocf:heartbeat:IPaddr2 with ip, cidr_netmask, nic and broadcast;
//   - Filesystem becomes ocf:heartbeat:Filesystem (device, directory,
//     fstype, options);
//   - drbddisk::RES leaves the group: it becomes an ocf:linbit:drbd
//     promotable clone (ms_drbd_RES) running on both nodes, promoted where
//     the group runs (colocation with the Promoted role, order promote
//     then start);
//   - iSCSITarget and iSCSILogicalUnit become the resource-agents
//     primitives of the same names; SCSTTarget and SCSTLun become SCST's
//     own OCF agents (ocf:heartbeat:SCSTTarget/SCSTLun, as seed 000 runs
//     them), because resource-agents' iSCSITarget knows no SCST back end;
//   - the iscsitarget service becomes lsb:tgt (or lsb:iscsitarget for
//     IET), the init script that loads the same targets.conf;
//   - Heartbeat's other resource.d wrappers that pass positional
//     arguments to an OCF agent (MailTo, Delay, LVM, portblock, ...) map
//     to that agent; anything else without arguments is lsb:NAME, and a
//     script with arguments that Pacemaker cannot pass is left as a
//     comment and a warning.
//
// Cluster-wide: auto_failback sets resource-stickiness (see stickiness),
// stonith_host, stonith and fence_agent lines become fencing resources
// (none: stonith-enabled=false with a warning), script_timeout becomes the
// default operation timeout, stop_failure block becomes on-fail=block on
// every stop, and the two-node quorum comes from corosync's two_node.
//
// Everything that needs an admin's eye is a Finding with the file and line
// it comes from, and a comment in the output beside what it concerns.
package pacemaker
