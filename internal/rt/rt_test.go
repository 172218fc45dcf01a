package rt

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestEnableRaisesEveryThreadNotChildren runs Enable in a child copy of
// the test binary (it changes the whole process): every thread must end at
// SCHED_FIFO, threads the runtime starts later too once RaiseNew has
// run again, and a program the process executes must not (SCHED_RESET_ON_FORK:
// resource scripts never run at realtime priority).
func TestEnableRaisesEveryThreadNotChildren(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_NICE, CAP_IPC_LOCK)")
	}
	if os.Getenv("RT_TEST_CHILD") == "1" {
		rtChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEnableRaisesEveryThreadNotChildren$", "-test.v")
	cmd.Env = append(os.Environ(), "RT_TEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var report string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "RT ") {
			report = l
		}
	}
	// RT <threads raised> <threads total> <threads not FIFO after sweep> <exec'd child policy> <enable warnings>
	f := strings.Fields(report)
	if len(f) < 6 {
		t.Fatalf("no report from the child:\n%s", out)
	}
	if f[1] == "0" || f[3] != "0" || f[4] != "0" || f[5] != "none" {
		t.Fatalf("child report %q: want some threads raised, none left normal after the sweep, the exec'd child at policy 0, no warnings\n%s", report, out)
	}
	if pol, _, _ := Policy(0); pol != unix.SCHED_NORMAL {
		t.Errorf("the test's own thread changed policy to %d", pol)
	}
}

// rtChild is the child side: Enable, force the runtime to start more
// threads (goroutines blocked in system calls), sweep, and report.
func rtChild() {
	r := Enable(0)
	warn := "none"
	if w := r.Warnings(); len(w) > 0 {
		warn = strings.ReplaceAll(strings.Join(w, "|"), " ", "_")
	}
	// The daemon's path: RaiseNew every few seconds. The first call
	// learns the threads Enable raised; the threads started after it
	// must still be raised by the next.
	if err := r.RaiseNew(); err != nil {
		warn = "raisenew:" + err.Error()
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ts = unix.Timespec{Nsec: 50e6}
			unix.Nanosleep(&ts, nil) // blocks: the runtime may start a thread
		}()
	}
	wg.Wait()
	if err := r.RaiseNew(); err != nil {
		warn = "sweep:" + err.Error()
	}
	tids, _ := threads()
	normal := 0
	for _, tid := range tids {
		if pol, _, err := Policy(tid); err == nil && pol != unix.SCHED_FIFO {
			normal++
		}
	}
	// Field 41 of /proc/self/stat is the scheduling policy.
	stat, _ := exec.Command("cat", "/proc/self/stat").Output()
	s := string(stat)
	rest := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	childPol := "?"
	if len(rest) > 38 {
		childPol = rest[38]
	}
	fmt.Printf("RT %d %d %d %s %s\n", r.Threads, len(tids), normal, childPol, warn)
	Disable()
}

func TestWarningsNameTheRemedy(t *testing.T) {
	r := Result{LockErr: unix.EPERM, SchedErr: unix.EPERM, Priority: 5}
	w := r.Warnings()
	if len(w) != 2 || !strings.Contains(w[0], "LimitMEMLOCK") || !strings.Contains(w[1], "LimitRTPRIO=5") {
		t.Fatalf("warnings %q", w)
	}
}

// TestLoadAvgRereads: the held file gives the whole line each time, not
// an empty read at its end.
func TestLoadAvgRereads(t *testing.T) {
	for i := 0; i < 3; i++ {
		if f := strings.Fields(LoadAvg()); len(f) != 5 || !strings.Contains(f[3], "/") {
			t.Fatalf("read %d: %q, want /proc/loadavg's five fields", i+1, LoadAvg())
		}
	}
}
