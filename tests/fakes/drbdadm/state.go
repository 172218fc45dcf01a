package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"syscall"
)

// Resource is what the kernel would know about one DRBD resource (one
// volume, one peer): enough to answer role/dstate/cstate and to decide
// whether a state change is allowed.
type Resource struct {
	Minor int `json:"minor"`
	// Up is false after `drbdadm down` (8.4: minor deleted; 9: resource
	// gone from the kernel).
	Up       bool   `json:"up"`
	Role     string `json:"role"`      // Primary | Secondary
	PeerRole string `json:"peer_role"` // Primary | Secondary (shown only while connected)
	Disk     string `json:"disk"`      // UpToDate, Outdated, Inconsistent, Consistent, Diskless, ...
	PeerDisk string `json:"peer_disk"` // shown only while connected, else DUnknown
	CState   string `json:"cstate"`    // Connected, WFConnection (8.4), Connecting (9), StandAlone, SyncSource, ...
	// TwoPrimaries is net { allow-two-primaries; }.
	TwoPrimaries bool `json:"allow_two_primaries,omitempty"`
	// Open is true while something holds /dev/drbdN open (a mounted
	// filesystem): demotion then fails with SS_DEVICE_IN_USE.
	Open bool `json:"open,omitempty"`
}

// Failure forces a subcommand to fail, the way an unreachable drbdsetup, a
// read-only /var/lock or a kernel oddity would.
type Failure struct {
	Exit   int    `json:"exit"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	// Times is how many more calls fail; 0 means every call.
	Times int `json:"times,omitempty"`
}

// State is the JSON document at $FAKE_DRBD_STATE.
type State struct {
	Resources map[string]*Resource `json:"resources"`
	// Fail is keyed by subcommand ("role") or subcommand and resource
	// ("role r0"); the more specific key wins.
	Fail map[string]*Failure `json:"fail,omitempty"`
	// Calls records every invocation's arguments, so tests can count tries.
	Calls []string `json:"calls,omitempty"`
}

// names lists the resources in a stable order, as drbdadm walks its config.
func (s *State) names() []string {
	var out []string
	for n := range s.Resources {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// lockedState opens the state file under an exclusive flock so that
// concurrent invocations (drbddisk for two resources at once) do not lose
// each other's changes.
type lockedState struct {
	f *os.File
	State
}

func openState(path string) (*lockedState, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open state: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state %s: %w", path, err)
	}
	ls := &lockedState{f: f}
	dec := json.NewDecoder(f)
	if err := dec.Decode(&ls.State); err != nil {
		f.Close()
		return nil, fmt.Errorf("parse state %s: %w", path, err)
	}
	return ls, nil
}

func (ls *lockedState) save() error {
	data, err := json.MarshalIndent(&ls.State, "", "  ")
	if err != nil {
		return err
	}
	if err := ls.f.Truncate(0); err != nil {
		return err
	}
	if _, err := ls.f.WriteAt(append(data, '\n'), 0); err != nil {
		return err
	}
	return ls.f.Close()
}
