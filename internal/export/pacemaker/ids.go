package pacemaker

import (
	"fmt"
	"strings"
)

// idSet hands out CIB ids. Every id in a CIB must be unique and an XML ID
// (a letter or '_' first, then letters, digits, '.', '-', '_'); ids are
// made from what an admin recognises (the group key, the address, the DRBD
// resource), so crm_mon output reads like the haresources file.
type idSet map[string]bool

// take returns want made valid, with a -2, -3... suffix if it is taken.
func (s idSet) take(want string) string {
	id := want
	if id == "" || !isIDStart(id[0]) {
		id = "r_" + id
	}
	for n := 2; s[id]; n++ {
		id = fmt.Sprintf("%s-%d", strings.TrimRight(want, "-"), n)
		if !isIDStart(id[0]) {
			id = "r_" + id
		}
	}
	s[id] = true
	return id
}

func isIDStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// slug keeps the characters an XML ID allows and turns the rest into '-':
// "IPaddr::10.11.55.50/8/eth0" becomes "IPaddr_10.11.55.50-8-eth0".
func slug(s string) string {
	s = strings.ReplaceAll(s, "::", "_")
	var b strings.Builder
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '.' || c == '_' || c == '-' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if ok {
			b.WriteByte(c)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-.")
}
