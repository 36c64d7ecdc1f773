package hdr

import (
	"bytes"
	"testing"
)

// FuzzHeaders feeds arbitrary bytes to every view's validity check and, when
// it passes, to every accessor; nothing may panic, and the encodable headers
// must re-encode to the same bytes.
func FuzzHeaders(f *testing.F) {
	for _, s := range []string{
		goldenIPv4 + "00000000",
		"6000000000081140" + "20010db8000000000000000000000001" + "20010db8000000000000000000000002" + "1194119400080000",
		"30008847" + "0000002a" + "00000007" + "000211ff45",
		"0101000100110800",
		"86dd010100010bb8",
		"0102" + "0007abcd" + "00010063" + "00080000" + "0800",
		"00001000000000ff",
	} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if IPv4(b).Valid() {
			h := IPv4(b)
			_, _, _ = h.Src(), h.Dst(), h.Payload()
			if h.HeaderLen() == IPv4MinLen && h.FlagsFragOff() == 0 && h.ChecksumValid() {
				out := make([]byte, IPv4MinLen)
				EncodeIPv4(out, h.TOS(), h.TotalLength(), h.ID(), h.TTL(), h.Protocol(), h.Src(), h.Dst())
				if !bytes.Equal(out, b[:IPv4MinLen]) {
					t.Fatalf("IPv4 re-encode % x != % x", out, b[:IPv4MinLen])
				}
			}
		}
		if IPv6(b).Valid() {
			h := IPv6(b)
			_, _, _ = h.Src(), h.Dst(), h.Payload()
			if b[1]&0x0f == 0 && b[2] == 0 && b[3] == 0 { // no flow label
				out := make([]byte, IPv6Len)
				EncodeIPv6(out, h.TrafficClass(), h.PayloadLength(), h.NextHeader(), h.HopLimit(), h.Src(), h.Dst())
				if !bytes.Equal(out, b[:IPv6Len]) {
					t.Fatalf("IPv6 re-encode % x != % x", out, b[:IPv6Len])
				}
			}
		}
		if UDP(b).Valid() {
			_ = UDP(b).Payload()
		}
		if ESP(b).Valid() {
			_, _ = ESP(b).SPI(), ESP(b).Seq()
		}
		if g := GRE(b); g.Valid() {
			_, _, _ = g.Key(), g.Seq(), g.Payload()
			_ = g.ChecksumValid()
			if !g.HasChecksum() {
				out := make([]byte, g.HeaderLen())
				n := EncodeGRE(out, g.Protocol(), GREOptions{Key: g.Key(), HasKey: g.HasKey(), Seq: g.Seq(), HasSeq: g.HasSeq()})
				if n != g.HeaderLen() || !bytes.Equal(out, b[:n]) {
					t.Fatalf("GRE re-encode % x != % x", out, b[:n])
				}
			}
		}
		if n := MPLSStackLen(b, 8); n > 0 {
			e := MPLS(b[n-4:])
			out := make([]byte, 4)
			EncodeMPLS(out, e.Label(), e.TC(), e.BottomOfStack(), e.TTL())
			if !bytes.Equal(out, b[n-4:n]) {
				t.Fatalf("MPLS re-encode % x != % x", out, b[n-4:n])
			}
		}
		for _, l := range []CMDLayout{CMDEthernet, CMDGRE, {NextIsIPProto: true}} {
			sgt, next, n, ok := l.Decode(b)
			if !ok {
				continue
			}
			if n > len(b) || n < 8 || sgt == SGTInvalid {
				t.Fatalf("CMD decode returned n=%d sgt=%#x for % x", n, sgt, b)
			}
			if n == CMDLen && bytes.Equal(b[l.optOff():l.optOff()+2], []byte{0, 1}) {
				out := make([]byte, CMDLen)
				l.Encode(out, sgt, next)
				if !bytes.Equal(out, b[:CMDLen]) {
					t.Fatalf("CMD re-encode % x != % x", out, b[:CMDLen])
				}
			}
		}
	})
}

func (l CMDLayout) optOff() int {
	if l.NextFirst {
		return 4
	}
	return 2
}
