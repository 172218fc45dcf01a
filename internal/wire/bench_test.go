package wire

import "testing"

// A typical keepalive: pa2's t=status of spec §1.1 (about 300 bytes).

func BenchmarkSealStatus(b *testing.B) {
	r := labRing(b)
	m := specStatus()
	b.ReportAllocs()
	b.SetBytes(int64(len(specDatagram)))
	for b.Loop() {
		if _, err := r.Seal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeVerifyStatus(b *testing.B) {
	r := labRing(b)
	pkt := []byte(specDatagram)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := Decode(pkt, r); err != nil {
			b.Fatal(err)
		}
	}
}
