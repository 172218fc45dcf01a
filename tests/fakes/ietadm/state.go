package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LUN is one logical unit as the IET kernel module holds it.
type LUN struct {
	LUN  int    `json:"lun"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// Target is one IET target.
type Target struct {
	TID  int    `json:"tid"`
	Name string `json:"name"`
	LUNs []LUN  `json:"luns,omitempty"`
}

// State is the fake kernel's and ietd's state, kept in a JSON file so
// that every ietadm run sees what the previous one did.
type State struct {
	Targets []Target `json:"targets"`
	// Calls records every ietadm and ietd command line, for tests.
	Calls []string `json:"calls,omitempty"`
	// Fail makes a command whose line starts with the key exit with the
	// value instead of running (tests inject ietd refusals this way).
	Fail map[string]int `json:"fail,omitempty"`
}

func (s *State) target(tid int) *Target {
	for i := range s.Targets {
		if s.Targets[i].TID == tid {
			return &s.Targets[i]
		}
	}
	return nil
}

func (s *State) byName(name string) *Target {
	for i := range s.Targets {
		if s.Targets[i].Name == name {
			return &s.Targets[i]
		}
	}
	return nil
}

// paths are the fake's files: the "proc" directory the agent reads
// (IET_PROC), the state file, and ietd's pid file.
type paths struct {
	proc, state, pidfile string
}

func getPaths() (paths, error) {
	p := paths{proc: os.Getenv("IET_PROC"), state: os.Getenv("FAKE_IET_STATE"), pidfile: os.Getenv("IETD_PIDFILE")}
	if p.proc == "" || p.pidfile == "" {
		return p, errors.New("fake IET: IET_PROC and IETD_PIDFILE must be set")
	}
	if p.state == "" {
		p.state = filepath.Join(filepath.Dir(p.proc), "fake-iet.json")
	}
	return p, nil
}

func load(p paths) (*State, error) {
	var s State
	data, err := os.ReadFile(p.state)
	if errors.Is(err, os.ErrNotExist) {
		return &s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", p.state, err)
	}
	return &s, nil
}

// save writes the state and, if the "module" is loaded (the proc
// directory exists), the volume file the way IET's /proc/net/iet/volume
// shows it.
func save(p paths, s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.state, data, 0o644); err != nil {
		return err
	}
	if _, err := os.Stat(p.proc); err != nil {
		return nil
	}
	var b strings.Builder
	for _, t := range s.Targets {
		fmt.Fprintf(&b, "tid:%d name:%s\n", t.TID, t.Name)
		for _, l := range t.LUNs {
			blocks := int64(0)
			if st, err := os.Stat(l.Path); err == nil {
				blocks = st.Size() / 512
			}
			fmt.Fprintf(&b, "\tlun:%d state:0 iotype:%s iomode:wt blocks:%d blocksize:512 path:%s\n", l.LUN, l.Type, blocks, l.Path)
		}
	}
	return os.WriteFile(filepath.Join(p.proc, "volume"), []byte(b.String()), 0o644)
}
