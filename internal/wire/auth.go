package wire

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"
	"strconv"
	"sync"
)

// Method is an authentication algorithm as named in /etc/ha.d/authkeys.
type Method string

const (
	// MethodCRC is Heartbeat's "crc": a POSIX-cksum style CRC-32 without the
	// length suffix. It uses no key and offers no security; Heartbeat keeps it
	// for isolated serial links and so do we, for compatibility.
	MethodCRC Method = "crc"
	// MethodMD5 is HMAC-MD5.
	MethodMD5 Method = "md5"
	// MethodSHA1 is HMAC-SHA1, what almost every Heartbeat cluster uses.
	MethodSHA1 Method = "sha1"
	// MethodSHA256 is HMAC-SHA256, a heartbeatd extension: a real Heartbeat
	// 3.0.6 node does not know it, so a mixed cluster must not sign with it.
	MethodSHA256 Method = "sha256"
)

// MaxKeyIndex is the highest key index authkeys accepts (Heartbeat's MAXAUTH
// is 16: indices 0..15).
const MaxKeyIndex = 15

// ParseMethod maps an authkeys method name to a Method.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case MethodCRC, MethodMD5, MethodSHA1, MethodSHA256:
		return m, nil
	}
	return "", fmt.Errorf("unknown authentication method %q (want crc, md5, sha1 or sha256)", s)
}

// NeedsKey reports whether the method takes a secret. Heartbeat refuses an
// authkeys line that gives a key to crc or none to md5/sha1.
func (m Method) NeedsKey() bool { return m != MethodCRC }

// hexLen is the length of the lower-case hex digest the method produces
// (crc: at most 8, it is printed without zero padding).
func (m Method) hexLen() int {
	switch m {
	case MethodCRC:
		return 8
	case MethodMD5:
		return 2 * md5.Size
	case MethodSHA1:
		return 2 * sha1.Size
	case MethodSHA256:
		return 2 * sha256.Size
	}
	return 0
}

// Key is one authkeys entry: "<Index> <Method> <Secret>".
type Key struct {
	Index  int
	Method Method
	// Secret is the authkeys token as ASCII bytes (no newline). Empty for crc.
	Secret []byte
}

// Validate checks the key the way Heartbeat checks an authkeys line.
func (k Key) Validate() error {
	if k.Index < 0 || k.Index > MaxKeyIndex {
		return fmt.Errorf("key index %d out of range 0..%d", k.Index, MaxKeyIndex)
	}
	if _, err := ParseMethod(string(k.Method)); err != nil {
		return fmt.Errorf("key %d: %w", k.Index, err)
	}
	if k.Method.NeedsKey() && len(k.Secret) == 0 {
		return fmt.Errorf("key %d: method %s requires a key", k.Index, k.Method)
	}
	if !k.Method.NeedsKey() && len(k.Secret) != 0 {
		return fmt.Errorf("key %d: method %s does not use a key", k.Index, k.Method)
	}
	return nil
}

// Digest returns the lower-case hex MAC of data (§2.2).
func (k Key) Digest(data []byte) (string, error) {
	d, ok := k.newDigester()
	if !ok {
		return "", fmt.Errorf("key %d: unknown authentication method %q", k.Index, k.Method)
	}
	d.put(data)
	return string(d.appendHex(nil)), nil
}

// digester accumulates the authenticated bytes so callers can feed a
// message piece by piece instead of building a copy of it first.
type digester struct {
	mac  hash.Hash  // HMAC methods
	pool *sync.Pool // where mac goes back when done
	crc  uint32     // crc method: running register (before the final inversion)
	isC  bool
}

func (k Key) newDigester() (digester, bool) {
	var h func() hash.Hash
	switch k.Method {
	case MethodCRC:
		return digester{isC: true}, true
	case MethodMD5:
		h = md5.New
	case MethodSHA1:
		h = sha1.New
	case MethodSHA256:
		h = sha256.New
	default:
		return digester{}, false
	}
	pool := macPool(k.Method, k.Secret, h)
	return digester{mac: pool.Get().(hash.Hash), pool: pool}, true
}

// Every packet in and out is signed or checked, and a fresh HMAC costs a
// handful of allocations (two hash states, the padded key). Keyed HMACs are
// kept per method and secret and Reset between uses instead.
var macPools struct {
	sync.RWMutex
	m map[Method]map[string]*sync.Pool
}

func macPool(m Method, secret []byte, h func() hash.Hash) *sync.Pool {
	macPools.RLock()
	p := macPools.m[m][string(secret)]
	macPools.RUnlock()
	if p != nil {
		return p
	}
	macPools.Lock()
	defer macPools.Unlock()
	if macPools.m == nil {
		macPools.m = map[Method]map[string]*sync.Pool{}
	}
	if macPools.m[m] == nil {
		macPools.m[m] = map[string]*sync.Pool{}
	}
	if p = macPools.m[m][string(secret)]; p == nil {
		key := append([]byte(nil), secret...)
		p = &sync.Pool{New: func() any { return hmac.New(h, key) }}
		macPools.m[m][string(key)] = p
	}
	return p
}

func (d *digester) put(p []byte) {
	if d.isC {
		d.crc = crcUpdate(d.crc, p)
		return
	}
	d.mac.Write(p)
}

// appendHex appends the final digest in Heartbeat's text form.
func (d *digester) appendHex(dst []byte) []byte {
	if d.isC {
		// Heartbeat prints the CRC with "%lx": no zero padding.
		return strconv.AppendUint(dst, uint64(^d.crc), 16)
	}
	var sum [sha256.Size]byte
	out := d.mac.Sum(sum[:0])
	// The digest is final: the HMAC goes back to its pool, reset to its
	// keyed state. (A digester abandoned before this point just leaves
	// its HMAC to the garbage collector.)
	d.mac.Reset()
	d.pool.Put(d.mac)
	d.mac = nil
	const digits = "0123456789abcdef"
	for _, b := range out {
		dst = append(dst, digits[b>>4], digits[b&15])
	}
	return dst
}

// crcTable is the MSB-first table for polynomial 0x04C11DB7 (the POSIX
// cksum CRC). Go's hash/crc32 only does the reflected variant.
var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crcUpdate(crc uint32, p []byte) uint32 {
	for _, b := range p {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^b]
	}
	return crc
}

// equalDigest compares two hex digests without leaking where they differ.
func equalDigest(a, b []byte) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}

// Keyring is the parsed authkeys file: the key used to sign outgoing
// packets and every key accepted on input (several indices let an admin
// rotate keys one node at a time).
type Keyring struct {
	Active Key
	Keys   map[int]Key
}

// NewKeyring builds a keyring that signs with active and accepts active
// plus others. It rejects invalid keys and two keys with one index.
func NewKeyring(active Key, others ...Key) (*Keyring, error) {
	r := &Keyring{Active: active, Keys: map[int]Key{}}
	for _, k := range append([]Key{active}, others...) {
		if err := k.Validate(); err != nil {
			return nil, err
		}
		if old, dup := r.Keys[k.Index]; dup && (old.Method != k.Method || string(old.Secret) != string(k.Secret)) {
			return nil, fmt.Errorf("key index %d defined twice", k.Index)
		}
		r.Keys[k.Index] = k
	}
	return r, nil
}

// Lookup returns the key with the given index. The active key is always
// found, even in a Keyring literal whose Keys map omits it.
func (r *Keyring) Lookup(index int) (Key, bool) {
	if r == nil {
		return Key{}, false
	}
	if k, ok := r.Keys[index]; ok {
		return k, true
	}
	if r.Active.Index == index && r.Active.Method != "" {
		return r.Active, true
	}
	return Key{}, false
}
