package wire

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
)

func TestTSPrefixes(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	tests := []struct {
		name       string
		start, end string
		want       []netip.Prefix
	}{
		{"v4 any", "0.0.0.0", "255.255.255.255", []netip.Prefix{p("0.0.0.0/0")}},
		{"v4 host", "198.18.0.1", "198.18.0.1", []netip.Prefix{p("198.18.0.1/32")}},
		{"v4 /15", "198.18.0.0", "198.19.255.255", []netip.Prefix{p("198.18.0.0/15")}},
		{"v4 odd", "198.18.0.1", "198.18.0.6", []netip.Prefix{p("198.18.0.1/32"), p("198.18.0.2/31"), p("198.18.0.4/31"), p("198.18.0.6/32")}},
		{"v6 any", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []netip.Prefix{p("::/0")}},
		{"v6 /64 pair", "2001:db8::", "2001:db8:0:1:ffff:ffff:ffff:ffff", []netip.Prefix{p("2001:db8::/63")}},
		{"v6 across 64-bit boundary", "2001:db8::ffff:ffff:ffff:ffff", "2001:db8:0:1::", []netip.Prefix{p("2001:db8::ffff:ffff:ffff:ffff/128"), p("2001:db8:0:1::/128")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := TSFromRange(a(tt.start), a(tt.end), 0, 0, 65535)
			got := ts.AppendPrefixes(nil)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("prefixes = %v, want %v", got, tt.want)
			}
			if len(tt.want) == 1 {
				if pf, ok := ts.Prefix(); !ok || pf != tt.want[0] {
					t.Errorf("Prefix() = %v %v", pf, ok)
				}
				if back := TSFromPrefix(tt.want[0]); !back.Equal(ts) {
					t.Errorf("TSFromPrefix = %v, want %v", back, ts)
				}
			}
		})
	}
}

// TestTSPrefixesOracle checks the prefix decomposition of random IPv4 ranges
// against the obvious rule: the prefixes are aligned, contiguous, cover the
// range exactly, and no two neighbours could merge into one.
func TestTSPrefixesOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		lo := r.Uint32N(1 << 12)
		hi := lo + r.Uint32N(1<<12)
		base := uint32(198)<<24 | 18<<16
		ts := TSFromRange(u32addr(base+lo), u32addr(base+hi), 0, 0, 65535)
		ps := ts.AppendPrefixes(nil)
		next := base + lo
		for i, p := range ps {
			if p.Masked() != p {
				t.Fatalf("%v: prefix %v not aligned", ts, p)
			}
			if addrU32(p.Addr()) != next {
				t.Fatalf("%v: prefix %v does not continue at %v", ts, p, u32addr(next))
			}
			next += 1 << (32 - p.Bits())
			if i > 0 && ps[i-1].Bits() == p.Bits() {
				if parent, _ := ps[i-1].Addr().Prefix(p.Bits() - 1); parent.Contains(p.Addr()) {
					t.Fatalf("%v: %v and %v could merge", ts, ps[i-1], p)
				}
			}
		}
		if next != base+hi+1 {
			t.Fatalf("%v: prefixes end at %v", ts, u32addr(next-1))
		}
	}
}

func u32addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func addrU32(a netip.Addr) uint32 {
	v := a.As4()
	return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
}

// TestTSIntersectOracle checks Intersect against Contains, point by point, in a
// small space of addresses, protocols and ports.
func TestTSIntersectOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	protos := []uint8{0, 6, 17}
	randTS := func() TrafficSelector {
		lo := r.Uint32N(16)
		hi := lo + r.Uint32N(16-lo)
		sp := uint16(r.UintN(8))
		ep := sp + uint16(r.UintN(uint(8-sp)))
		switch r.IntN(4) {
		case 0:
			sp, ep = 0, 65535
		case 1:
			if r.IntN(4) == 0 {
				sp, ep = OpaquePorts, 0
			}
		}
		base := uint32(198)<<24 | 18<<16
		return TSFromRange(u32addr(base+lo), u32addr(base+hi), protos[r.IntN(3)], sp, ep)
	}
	for range 3000 {
		a, b := randTS(), randTS()
		in, ok := a.Intersect(b)
		for addr := range uint32(16) {
			for _, proto := range protos[1:] {
				for port := range uint16(9) {
					ad := u32addr(uint32(198)<<24 | 18<<16 + addr)
					want := a.Contains(ad, proto, port) && b.Contains(ad, proto, port)
					got := ok && in.Contains(ad, proto, port)
					if got != want {
						t.Fatalf("%v ∩ %v = %v (%v): point %v proto %d port %d: got %v want %v", a, b, in, ok, ad, proto, port, got, want)
					}
				}
			}
		}
		if ok && (!in.IsSubsetOf(a) || !in.IsSubsetOf(b)) {
			t.Fatalf("%v ∩ %v = %v is not a subset of both", a, b, in)
		}
	}
}

func TestNarrow(t *testing.T) {
	pf := netip.MustParsePrefix
	proposed := []TrafficSelector{TSAny(false), TSAny(true)}
	allowed := []TrafficSelector{TSFromPrefix(pf("198.18.10.0/24")), TSFromPrefix(pf("198.18.20.0/24")), TSFromPrefix(pf("198.18.10.0/24"))}
	got := Narrow(nil, proposed, allowed)
	want := []TrafficSelector{TSFromPrefix(pf("198.18.10.0/24")), TSFromPrefix(pf("198.18.20.0/24"))}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Narrow = %v, want %v", got, want)
	}
	if got := Narrow(nil, []TrafficSelector{TSFromPrefix(pf("2001:db8::/32"))}, allowed); len(got) != 0 {
		t.Fatalf("v6 narrowed to v4 policy: %v", got)
	}
}

func TestTSString(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		ts   TrafficSelector
		want string
	}{
		{TSAny(false), "0.0.0.0/0"},
		{TSFromRange(a("198.18.0.1"), a("198.18.0.6"), 0, 0, 65535), "198.18.0.1..198.18.0.6"},
		{TSFromRange(a("198.18.0.0"), a("198.18.0.255"), 47, 0, 65535), "198.18.0.0/24[47]"},
		{TSFromRange(a("2001:db8::1"), a("2001:db8::1"), 17, 500, 500), "2001:db8::1/128[17/500]"},
		{TSFromRange(a("198.18.0.1"), a("198.18.0.1"), 6, 1000, 2000), "198.18.0.1/32[6/1000-2000]"},
		{TSFromRange(a("198.18.0.1"), a("198.18.0.1"), 6, OpaquePorts, 0), "198.18.0.1/32[6/OPAQUE]"},
	}
	for _, tt := range tests {
		if got := tt.ts.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
