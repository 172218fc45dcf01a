package rm

// Decisions where heartbeatd deliberately differs from Heartbeat 3.0.6
// (each keeps the wire messages a 3.0.6 peer understands):
//
//   - Legacy start-up: Heartbeat's req_resource takes a home group without
//     asking when fewer than two nodes are active (HA_DONTASK). A peer can be
//     alive but not yet active here (its repnodes arrives before its first
//     status) while holding our groups, taken over during our absence; both
//     nodes then ran them. heartbeatd asks with ip-request unless the peer is
//     known dead or has shut down.
//
//   - Own messages: the manager applies its own resource/ask_resources
//     messages when it sends them (queued to the end of the same Step, like
//     Heartbeat's loopback) and ignores looped-back copies (src == Local).
//   - Late messages: membership delivers a retransmitted message when it
//     arrives, after the newer ones that overtook it; Heartbeat applies it
//     as news. Here a peer's resource or starting message older (hg, seq)
//     than one already applied no longer changes the peer's stability
//     (isstable), nor its rsc_hold once a newer resource message came;
//     what it asks for is still done (a starting is answered, a claim of
//     the peer's home groups releases our copies). A standby message sent
//     before the peer's newest starting is ignored: the peer left that
//     exchange. And the peer's "done" for our standby leaves the peer in
//     flux until its resource message says what it took.
//   - One resource job at a time (req_our_resources, mach_down, standby,
//     shutdown, ip-request, ...), in order; the groups of one job run in
//     parallel. Heartbeat forks children that may overlap.
//   - A "resource ... isstable=1" we send always claims every set that has a
//     group active here, whatever the bookkeeping says.
//   - hb_standby / hb_takeover check the preconditions before sending, and
//     reply with Heartbeat's wording, instead of sending a request that our
//     own loopback then ignores (which leaves a 3.0.6 peer waiting 60 min).
//   - hb_takeover failback is sent as rsc_hold=local (a 3.0.6 peer would go
//     standby [all] on "failback"); a received "failback" means foreign.
//   - Failed stop (GroupDone Fatal): the group is failed-stop, never started
//     here again, always claimed in rsc_hold, never released to an
//     ip-request; a standby that hits it is rolled back and cancelled with
//     ask_resources info=cancel (a 3.0.6 peer logs and ignores it and times
//     out); a graceful shutdown blocks instead of sending shutdone. Policy
//     "reboot" (default) also emits Reboot. `cleanup KEY` clears it.
//   - Failed start: Heartbeat's 30 s hb_standby of the group's set; when no
//     peer can take it, up to 3 local retries (legacy with a live peer: ask
//     with ip-request again).
//   - Partition heal (PeerReturned, or the peer turning up already active
//     after we declared it dead): instead of giving up everything and
//     restarting, both sides keep each group on its home node. nice_failback
//     re-syncs with a starting message and releases foreign groups the peer
//     claims as local; legacy releases foreign groups and ip-requests its
//     running home groups. The release waits out our own standby or
//     shutdown but is never dropped, and our pending standby request does
//     not hold it up; our own acquisition after a heal waits until the
//     returned peer says isstable=1 (it may still be stopping groups it no
//     longer claims), and is cancelled by a standby that gives them away.
//   - Orphans: when both sides are stable and nobody claims our home groups
//     (Heartbeat only logs "No one owns our local resources!"), we acquire
//     them once that has lasted 250 ms (a daemon resuming from a stall
//     reads the peer's older messages first); claimed groups found
//     stopped are started.
//   - Legacy: only answers to our own ip-requests are honoured, and an
//     ip-request from an earlier run of the peer is dropped. After a
//     partition-heal release of the peer's groups we send it an
//     ip-request-resp per released group: a peer that did not notice the
//     partition may still wait for the answer to an ip-request lost in it.
//   - A peer's "starting" while we are in the OTHER or DONE standby state
//     ends the exchange ("Cancelling pending standby operation"): the peer
//     reset it when it sent "starting" (restart, or heartbeatd's partition
//     return), and a lost "done" would otherwise hold us for 60 min.
//   - An aborted standby does not restart groups whose set the peer claims.
//   - A failed start whose set holds a failed-stop group here is retried
//     locally (the set can never be handed over until cleanup).
//   - ipfail is built in (ipfail.go), speaking 3.0.6 ipfail's messages; it
//     sends no standby for a set it holds nothing of, gives up foreign
//     groups on balanced counts (auto_failback on) only when it holds some,
//     and retries a giveup that met resources in flux once stable.
//   - Ping tie-breaker (isolated.go): a node that reaches none of its ping
//     nodes while the peer is dead takes nothing, fences nothing, and
//     releases what it holds; Heartbeat has no such rule.
//   - Resource monitoring (extension, off by default; monitor.go): a
//     MonitorFailed restarts the group here up to MaxRestarts times within
//     Window, then hands its set away with the standby exchange (nobody to
//     take it: restarted again). A node that gave a group away for
//     failures leaves the peer's standby request for it unanswered (as a
//     node in flux does) for FailureTimeout or until cleanup; the peer then
//     stops the group with a CRIT line. A dead peer's groups are taken
//     over regardless.
//
// Known limit: rsc_hold names sets, not groups. A node holding a group of
// the other node's home set failed-stop claims that whole set (so that a
// 3.0.6 peer does not start it), so the set's other groups may stay down
// on both nodes until `heartbeatd cleanup KEY` on the failed node.
// Likewise a graceful stop blocked by a failed-stop group waits for cleanup.
