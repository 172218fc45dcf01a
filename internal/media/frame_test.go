package media

import (
	"bytes"
	"strings"
	"testing"
)

func splitAll(max int, chunks ...string) ([]string, int) {
	s := newClassicSplitter(max)
	var out []string
	for _, c := range chunks {
		for _, f := range s.feed([]byte(c)) {
			out = append(out, string(f))
		}
	}
	return out, s.dropped
}

func TestClassicSplitter(t *testing.T) {
	// A real classic message as fakenode.py sent it (E-interop), shortened.
	msg := ">>>\nt=status\nst=active\nsrc=pa2\n(1)srcuuid=GyTC5o83Qd+a1hH/K0O/Fw==\nauth=1 3891bb08\n<<<\n"
	tests := []struct {
		name   string
		chunks []string
		want   []string
	}{
		{"one message", []string{msg}, []string{msg}},
		{"byte by byte", strings.Split(msg, ""), []string{msg}},
		{"two back to back", []string{msg + msg}, []string{msg, msg}},
		{"noise before and between", []string{"\x00garbage\r\n" + msg + "noise\n" + msg}, []string{msg, msg}},
		{"empty message", []string{">>>\n<<<\n"}, []string{">>>\n<<<\n"}},
		{"joined mid-message", []string{"st=active\n<<<\n" + msg}, []string{msg}},
		{"restart inside a frame drops the partial one", []string{">>>\nt=status\n" + msg}, []string{msg}},
		{"markers must start a line", []string{"x>>>\nt=a\n<<<\n"}, nil},
		{"end marker must start a line", []string{">>>\nt=a<<<\n"}, nil},
		{"marker not at line start across chunks", []string{"x>", ">>\nt=a\n<<<\n"}, nil},
		{"start marker split across chunks", []string{"junk\n>", ">>\nt=a\n", "<<", "<\n"}, []string{">>>\nt=a\n<<<\n"}},
		{"unfinished message waits", []string{">>>\nt=a\n"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := splitAll(MaxPacket, tc.chunks...)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("frames:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestClassicSplitterDropsOversizedFrames(t *testing.T) {
	big := ">>>\n" + strings.Repeat("x=yyyyyyyy\n", 20) + "<<<\n" // 232 bytes
	small := ">>>\nt=a\n<<<\n"
	for _, chunks := range [][]string{{big + small}, strings.Split(big+small, "")} {
		got, dropped := splitAll(100, chunks...)
		if len(got) != 1 || got[0] != small {
			t.Fatalf("max 100: got %q, want only the small frame", got)
		}
		if dropped < len(big)-3 {
			t.Fatalf("dropped %d bytes, want the %d of the big frame counted", dropped, len(big))
		}
	}
}

// FuzzClassicSplitter checks that framing does not depend on how the line
// delivers bytes, and that every frame has the classic shape.
func FuzzClassicSplitter(f *testing.F) {
	f.Add([]byte(">>>\nt=status\nst=active\nsrc=pa2\nauth=1 3891bb08\n<<<\n"), uint16(7))
	f.Add([]byte("noise>>>\n>>>\nt=a\n<<<\n<<<\n>>>\n<<<\n"), uint16(1))
	f.Add([]byte("###\n11:(0)t=status,%%%\n42:1 463f,"), uint16(3))
	f.Add([]byte(">>>\n"+strings.Repeat("a=b\n", 40)+"<<<\n>>>\nt=x\n<<<\n"), uint16(50))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		const max = 64
		whole := newClassicSplitter(max)
		want := whole.feed(data)
		// Same stream, cut at an arbitrary point and then fed in 1..7 byte pieces.
		c := int(cut) % (len(data) + 1)
		parts := newClassicSplitter(max)
		got := parts.feed(data[:c])
		step := int(cut)%7 + 1
		for i := c; i < len(data); i += step {
			j := min(i+step, len(data))
			got = append(got, parts.feed(data[i:j])...)
		}
		if len(got) != len(want) {
			t.Fatalf("chunked feed gave %d frames, whole feed %d:\n%q\n%q", len(got), len(want), got, want)
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d differs: %q vs %q", i, got[i], want[i])
			}
		}
		for _, fr := range want {
			if !bytes.HasPrefix(fr, frameStart) || !bytes.HasSuffix(fr, frameEnd) || len(fr) > max {
				t.Fatalf("bad frame %q", fr)
			}
			if bytes.Contains(fr[1:], []byte("\n>>>\n")) {
				t.Fatalf("frame %q contains a restart", fr)
			}
		}
	})
}
