package rt

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestEnableRaisesOnlyTheCallingThread runs on a throw-away goroutine: its
// locked thread dies with it, so the test process is left unchanged.
func TestEnableRaisesOnlyTheCallingThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_NICE, CAP_IPC_LOCK)")
	}
	done := make(chan Result)
	var other int
	go func() {
		r := Enable(0)
		pol, prio, err := Policy(0)
		if err != nil || pol != unix.SCHED_FIFO || prio != DefaultPriority {
			t.Errorf("after Enable: policy %d prio %d err %v, want SCHED_FIFO %d", pol, prio, err, DefaultPriority)
		}
		if err := Disable(); err != nil {
			t.Errorf("Disable: %v", err)
		}
		if pol, _, _ := Policy(0); pol != unix.SCHED_NORMAL {
			t.Errorf("after Disable: policy %d", pol)
		}
		done <- r
		// The thread stays locked and is discarded with this goroutine.
	}()
	r := <-done
	if !r.Locked || !r.Scheduled || len(r.Warnings()) != 0 {
		t.Fatalf("Enable as root: %+v", r)
	}
	runtime.LockOSThread()
	other = unix.Gettid()
	if pol, _, _ := Policy(other); pol != unix.SCHED_NORMAL {
		t.Errorf("the test's own thread changed policy to %d", pol)
	}
	runtime.UnlockOSThread()
}

func TestWarningsNameTheRemedy(t *testing.T) {
	r := Result{LockErr: unix.EPERM, SchedErr: unix.EPERM, Priority: 5}
	w := r.Warnings()
	if len(w) != 2 || !strings.Contains(w[0], "LimitMEMLOCK") || !strings.Contains(w[1], "LimitRTPRIO=5") {
		t.Fatalf("warnings %q", w)
	}
}
