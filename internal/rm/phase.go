package rm

// The manager's phases, each an explicit state instead of a set of flags
// (as etcd-raft keeps one state per role), so that what a phase allows is
// asked of the phase and Idle can read it off. Converted: our own
// shutdown and the release of foreign groups held on both nodes. The
// standby exchange (standbyPhase) was an enum already. The flags left on
// the Manager are independent facts (each can hold whatever the phases
// are), most of them Heartbeat globals under another name.

// shutdownPhase is our own graceful stop (SIGTERM), Heartbeat's
// rsc_needs_shutdown and shutdown_in_progress. Transitions:
//
//	shutNone     → shutGivingUp  Shutdown while stable
//	shutNone     → shutDelayed   Shutdown while busy
//	shutDelayed  → shutGivingUp  once stable (drain)
//	shutGivingUp → shutReady     every group stopped: ShutdownReady
//	shutGivingUp → shutBlocked   a group failed to stop
//	shutBlocked  → shutGivingUp  another Shutdown: the stuck groups again
//	shutBlocked  → shutReady     cleanup of the last failed-stop group
type shutdownPhase int

const (
	shutNone     shutdownPhase = iota
	shutDelayed                // asked while busy: starts once stable
	shutGivingUp               // hb_giveup_resources runs
	shutBlocked                // a group failed to stop: waits for cleanup
	shutReady                  // everything released: ShutdownReady sent
)

// shuttingDown is Heartbeat's shutdown_in_progress: the release has begun
// (and may have ended) and no new work is taken.
func (m *Manager) shuttingDown() bool { return m.shutdown >= shutGivingUp }

// releasePhase is our release of the peer's groups when both nodes hold
// them: after a partition heals, or when only one side noticed it.
// Heartbeat 3.0.6 only logs "Both machines own foreign resources!"; the
// home node keeps each group held twice. Transitions:
//
//	relNone    → relPutOff   the peer claims its home groups, which we
//	                         hold too, during our standby or shutdown
//	relPutOff  → relNone     the conflict is gone (resolveConflict)
//	relNone    → relRunning  resolveConflict releases our copies (nice),
//	                         or legacy onPeerReturned does, unasked
//	relPutOff  → relRunning  our standby ended (resolveConflict, retried each tick)
//	relRunning → relNone     the release job finished (finishJob), or a
//	                         takeover (death, shutdone) claims the groups
//	                         first and the finished job changes nothing
//
// relRunning always has its jobReleaseForeign queued or running.
type releasePhase int

const (
	relNone    releasePhase = iota
	relPutOff               // conflict seen, release waits for standby or shutdown to end
	relRunning              // jobReleaseForeign queued or running, and it counts
)
