package nodestatus

import (
	"fmt"
	"testing"
)

// The words go on the wire (st=) and into cl_status and log lines as they
// are: a change here would break interoperation with Heartbeat 3.0.6.
func TestWordsAreHeartbeats(t *testing.T) {
	for s, want := range map[Status]string{Init: "init", Up: "up", Active: "active", Dead: "dead", Ping: "ping"} {
		if string(s) != want || s.String() != want || fmt.Sprintf("%s %v %q", s, s, s) != fmt.Sprintf("%s %s %q", want, want, want) {
			t.Errorf("status %q prints as %q", want, fmt.Sprintf("%s %v %q", s, s, s))
		}
	}
}

// A word no constant names (a newer or foreign peer) survives a round trip.
func TestUnknownWordCarried(t *testing.T) {
	const word = "Weird\x00 status"
	if got := string(Status(word)); got != word {
		t.Fatalf("got %q, want %q", got, word)
	}
}
