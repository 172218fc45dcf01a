package media

import (
	"errors"
	"fmt"
	"strings"
)

// Set is the daemon's open media, in ha.cf order.
type Set struct {
	cfg  Config
	list []Medium
}

// NewSet returns an empty set whose media get cfg.
func NewSet(cfg Config) *Set { return &Set{cfg: cfg} }

// Close closes every medium.
func (s *Set) Close() {
	for _, m := range s.list {
		m.Close()
	}
	s.list = nil
}

// Send transmits one message on every medium: pkt, or on serial lines the
// classic encoding serial returns (called once, when a serial line needs
// it). It returns the errors of the copies that did not leave; a link
// that is down is not one of them (it is counted as down).
func (s *Set) Send(pkt []byte, serial func() ([]byte, error)) (failed int, errs []error) {
	var classic []byte
	for _, md := range s.list {
		out := pkt
		if l, ok := md.(*Link); ok && l.Spec().Kind == KindSerial {
			if classic == nil {
				c, err := serial()
				if err != nil {
					failed++
					errs = append(errs, fmt.Errorf("%s: %w", md.Name(), err))
					continue
				}
				classic = c
			}
			out = classic
		}
		if err := md.Send(out); err != nil {
			failed++
			if !errors.Is(err, ErrLinkDown) {
				errs = append(errs, fmt.Errorf("send on %s: %w", md.Name(), err))
			}
		}
	}
	return failed, errs
}

// Replace makes the set hold exactly specs (the first call opens them
// all): it opens the added ones, calls commit (which must accept the new
// list, or nothing changes), then closes the removed ones. A medium that
// cannot even be described is an error; one whose interface is missing
// opens as a down link and retries. labels[i] prefixes an error about specs[i] (the ha.cf
// line). It returns a summary such as "media +bcast eth2 -ucast eth1 ...".
func (s *Set) Replace(specs []Spec, labels []string, commit func() error) (string, error) {
	keep := map[Spec]bool{}
	for _, sp := range specs {
		keep[sp] = true
	}
	have := map[Spec]bool{}
	for _, md := range s.list {
		if l, ok := md.(*Link); ok {
			have[l.Spec()] = true
		}
	}
	var opened []Medium
	undo := func() {
		for _, o := range opened {
			o.Close()
		}
	}
	for i, sp := range specs {
		if have[sp] {
			continue
		}
		md, err := OpenConfig(sp, s.cfg)
		if err != nil {
			undo()
			return "", fmt.Errorf("%s: %w", labels[i], err)
		}
		opened = append(opened, md)
	}
	if err := commit(); err != nil {
		undo()
		return "", err
	}
	kept := s.list[:0]
	var parts []string
	for _, o := range opened {
		parts = append(parts, "+"+o.Name())
	}
	for _, md := range s.list {
		if l, ok := md.(*Link); ok && !keep[l.Spec()] {
			md.Close()
			parts = append(parts, "-"+md.Name())
			continue
		}
		kept = append(kept, md)
	}
	s.list = append(kept, opened...)
	return "media " + strings.Join(parts, " "), nil
}
