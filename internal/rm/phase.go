package rm

// The manager's phases, each an explicit state instead of a set of flags
// (as etcd-raft keeps one state per role), so that what a phase allows is
// asked of the phase and Idle can read it off. Converted so far: our own
// shutdown. The standby exchange (standbyPhase) was an enum already.

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
