package membership

import (
	"testing"
	"time"
)

// labConfig: keepalive 1 s, deadtime 5 s (dt 1388), warntime 3 s.
func TestSetTimingsAdvertisesNewDeadtimeAtOnce(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	r.start()
	r.advance(6 * time.Second) // past the start-up bonus: dt=1388
	acts, err := r.tb.SetTimings(r.now, Timings{Keepalive: 500 * time.Millisecond, Deadtime: 4 * time.Second,
		Warntime: 2 * time.Second, Initdead: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := transmits(acts, "status")
	if len(st) != 1 || st[0].Value("dt") != "fa0" {
		t.Fatalf("status after SetTimings: %v, want one with dt=fa0 (4000 ms)", st)
	}
	// The new keepalive is in force: 2 s bring 4 statuses, not 2.
	if n := len(transmits(r.advance(2*time.Second), "status")); n != 4 {
		t.Fatalf("%d statuses in 2 s at keepalive 500ms, want 4", n)
	}
}

func TestSetTimingsRefusesInvalidAndKeepsOld(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	r.start()
	if _, err := r.tb.SetTimings(r.now, Timings{Keepalive: 3 * time.Second, Deadtime: 5 * time.Second,
		Warntime: 2 * time.Second, Initdead: 10 * time.Second}); err == nil {
		t.Fatal("deadtime <= 2*keepalive accepted")
	}
	if n := len(transmits(r.advance(3*time.Second), "status")); n != 3 {
		t.Fatalf("%d statuses in 3 s, want 3 (old keepalive 1 s kept)", n)
	}
}

func TestSetTimingsDuringStartupKeepsBonus(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	r.start()
	acts, err := r.tb.SetTimings(r.now, Timings{Keepalive: time.Second, Deadtime: 6 * time.Second,
		Warntime: 3 * time.Second, Initdead: 12 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if st := transmits(acts, "status"); len(st) != 1 || st[0].Value("dt") != "1f40" {
		t.Fatalf("dt during start-up: %v, want 1f40 (6000+2000 ms)", st)
	}
}

func TestSetLinksKeepsStateOfRemainingLinks(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	r.start()
	r.recvBoth(newPeer(r, "pa2").status("up", 5000))
	if err := r.tb.SetLinks([]string{"eth2", "eth3"}); err != nil {
		t.Fatal(err)
	}
	got := r.tb.Links("pa2")
	if len(got) != 2 || got[0] != (LinkInfo{"eth2", LinkUp}) || got[1] != (LinkInfo{"eth3", LinkDead}) {
		t.Fatalf("links after SetLinks: %+v", got)
	}
	if err := r.tb.SetLinks(nil); err == nil {
		t.Fatal("empty link list accepted")
	}
	if err := r.tb.SetLinks([]string{"eth2", "eth2"}); err == nil {
		t.Fatal("duplicate link accepted")
	}
	if len(r.tb.Links("pa2")) != 2 {
		t.Fatal("a refused SetLinks changed the links")
	}
}
