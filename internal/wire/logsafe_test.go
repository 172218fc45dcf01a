package wire

import (
	"fmt"
	"strings"
	"testing"
)

func TestSrcOfIsBoundedAndPrintable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{authErr(FormatNetstring, "pa2", "x"), "pa2"},
		{authErr(FormatNetstring, "a\x1b[31mb\xff", "x"), "a?[31mb?"},
		{authErr(FormatNetstring, strings.Repeat("n", 300), "x"), strings.Repeat("n", 64)},
		{authErr(FormatNetstring, "", "x"), "?"},
		{fmt.Errorf("wrapped: %w", authErr(FormatClassic, "pa1", "x")), "pa1"},
		{ErrFormat, "?"},
	} {
		if got := SrcOf(tt.err); got != tt.want {
			t.Errorf("SrcOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
