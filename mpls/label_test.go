package mpls

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestLabelNames(t *testing.T) {
	for _, tt := range []struct {
		l    Label
		name string
	}{{0, "explicit-null"}, {2, "ipv6-explicit-null"}, {3, "implicit-null"}, {1, "router-alert"}, {19, "19"}, {MaxLabel, "1048575"}} {
		if got := tt.l.String(); got != tt.name {
			t.Errorf("%d.String() = %q", tt.l, got)
		}
		back, err := ParseLabel(tt.name)
		if err != nil || back != tt.l {
			t.Errorf("ParseLabel(%q) = %d, %v", tt.name, back, err)
		}
	}
	for _, bad := range []string{"", "-1", "1048576", "foo", "0x10"} {
		if _, err := ParseLabel(bad); err == nil {
			t.Errorf("ParseLabel(%q) accepted", bad)
		}
	}
	if !Label(15).Reserved() || Label(16).Reserved() || Label(1<<20).Valid() {
		t.Error("Reserved/Valid boundaries")
	}
}

// Golden stacks, checked with tshark inside GRE 0x8847: "MPLS Label: 19, Exp: 0,
// S: 1, TTL: 255" (the VPN label FlexVPN pushes) and a two-label stack 16/40.
var (
	goldenOneLabel  = mustHex("000131ff")         // label 19, bos, ttl 255
	goldenTwoLabels = mustHex("0001003f000281fe") // label 16 tc 0 ttl 63; label 40 bos ttl 254
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodeStack(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Stack
		n    int
		err  error
	}{
		{"one label", goldenOneLabel, Stack{{Label: 19, TTL: 255}}, 4, nil},
		{"two labels", append(goldenTwoLabels, 0x45), Stack{{Label: 16, TTL: 63}, {Label: 40, TTL: 254}}, 8, nil},
		{"tc bits", mustHex("00013b40"), Stack{{Label: 19, TC: 5, TTL: 64}}, 4, nil},
		{"explicit null at bottom", mustHex("00000140"), Stack{{Label: 0, TTL: 64}}, 4, nil},
		{"ipv6 explicit null at bottom", mustHex("00002140"), Stack{{Label: 2, TTL: 64}}, 4, nil},
		{"router alert above", mustHex("00001040000131ff"), Stack{{Label: 1, TTL: 64}, {Label: 19, TTL: 255}}, 8, nil},
		{"router alert at bottom", mustHex("00001140"), nil, 0, ErrBadBottomLabel},
		{"reserved 7 at bottom", mustHex("00007140"), nil, 0, ErrBadBottomLabel},
		{"implicit null", mustHex("00003140"), nil, 0, ErrImplicitNull},
		{"no bottom", mustHex("0001303f"), nil, 0, ErrTruncated},
		{"short", mustHex("000131"), nil, 0, ErrTruncated},
		{"empty", nil, nil, 0, ErrTruncated},
		{"too deep", bytes.Repeat(mustHex("0001303f"), MaxDepth+1), nil, 0, ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, n, err := DecodeStack(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if n != tt.n || len(s) != len(tt.want) {
				t.Fatalf("got %v (%d bytes), want %v (%d)", s, n, tt.want, tt.n)
			}
			for i := range s {
				if s[i] != tt.want[i] {
					t.Fatalf("entry %d = %+v, want %+v", i, s[i], tt.want[i])
				}
			}
			if err == nil {
				b, err := s.Append(nil)
				if err != nil || !bytes.Equal(b, tt.in[:n]) {
					t.Fatalf("re-encode % x, %v", b, err)
				}
			}
		})
	}
}

func TestAppendRejects(t *testing.T) {
	for _, tt := range []struct {
		s   Stack
		err error
	}{
		{nil, ErrEmpty},
		{Stack{{Label: ImplicitNull}}, ErrImplicitNull},
		{Stack{{Label: 16}, {Label: RouterAlert}}, ErrBadBottomLabel},
		{Stack{{Label: MaxLabel + 1}}, ErrBadLabel},
		{Stack{{Label: 16, TC: 8}}, ErrBadLabel},
		{make(Stack, MaxDepth+1), ErrTooDeep},
	} {
		if _, err := tt.s.Append(nil); !errors.Is(err, tt.err) {
			t.Errorf("%v: err %v, want %v", tt.s, err, tt.err)
		}
	}
	if got := (Stack{{Label: 19}, {Label: 0}}).String(); got != "label 19 label explicit-null" {
		t.Errorf("String = %q", got)
	}
}

func FuzzDecodeStack(f *testing.F) {
	f.Add(goldenOneLabel)
	f.Add(goldenTwoLabels)
	f.Add(mustHex("00001040000131ff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, n, err := DecodeStack(b)
		if err != nil {
			return
		}
		if n != len(s)*EntryLen || n > len(b) {
			t.Fatalf("length %d for %d entries", n, len(s))
		}
		out, err := s.Append(nil)
		if err != nil {
			t.Fatalf("Append of a decoded stack: %v", err)
		}
		if !bytes.Equal(out, b[:n]) {
			t.Fatalf("round trip % x != % x", out, b[:n])
		}
	})
}
