package dataplane

import (
	"bytes"
	"net/netip"
	"testing"
)

// TestWrapEditsInPlace checks that a wrapped packet is processed inside the
// caller's buffer: the outbound result lies in buf at Offset, so a backend
// can turn it back into a frame address without a copy.
func TestWrapEditsInPlace(t *testing.T) {
	pr := newPair(t, pairSpec{mode: ModeGRE, suite: suites[0]})
	inner := icmpPacket(netip.MustParseAddr("198.18.10.1"), netip.MustParseAddr("198.18.20.1"), 100, 1)
	buf := make([]byte, 2048)
	const off = 270
	copy(buf[off:], inner)
	p := &Packet{}
	p.Wrap(buf, off, len(inner))
	pr.wa.ProcessOutbound([]*Packet{p})
	if p.Verdict != VerdictUnderlay {
		t.Fatalf("verdict %v drop %v", p.Verdict, p.Drop)
	}
	if p.Offset() >= off {
		t.Fatalf("offset %d: outer headers not written in front of %d", p.Offset(), off)
	}
	if !bytes.Equal(buf[p.Offset():p.Offset()+p.Len()], p.Data()) || &buf[p.Offset()] != &p.Data()[0] {
		t.Fatal("data does not alias the wrapped buffer")
	}
}
