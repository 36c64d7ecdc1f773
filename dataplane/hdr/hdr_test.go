package hdr

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The classic RFC 1071 worked example header (checksum 0xb861).
const goldenIPv4 = "450000730000400040110000c0a80001c0a800c7"

func TestIPv4ChecksumGolden(t *testing.T) {
	b := mustHex(t, goldenIPv4)
	b = append(b, make([]byte, 0x73-20)...)
	h := IPv4(b)
	if !h.Valid() {
		t.Fatal("golden header not valid")
	}
	h.UpdateChecksum()
	if got := h.HeaderChecksum(); got != 0xb861 {
		t.Fatalf("checksum = %#04x, want 0xb861", got)
	}
	if !h.ChecksumValid() {
		t.Fatal("ChecksumValid false after UpdateChecksum")
	}
	b[15] ^= 1
	if h.ChecksumValid() {
		t.Fatal("ChecksumValid true after corruption")
	}
}

func TestEncodeIPv4RoundTrip(t *testing.T) {
	b := make([]byte, 60)
	src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.19.255.254")
	EncodeIPv4(b, 0xb8, 60, 0x1234, 64, ProtoESP, src, dst)
	h := IPv4(b)
	if !h.Valid() || !h.ChecksumValid() {
		t.Fatal("encoded header invalid")
	}
	if h.Src() != src || h.Dst() != dst || h.Protocol() != ProtoESP || h.TTL() != 64 || h.TOS() != 0xb8 ||
		h.ID() != 0x1234 || h.TotalLength() != 60 || h.HeaderLen() != 20 || len(h.Payload()) != 40 || h.IsFragment() {
		t.Fatalf("fields do not round-trip: % x", b[:20])
	}
}

func TestIPv4Valid(t *testing.T) {
	base := mustHex(t, "45000014000000004011000001020304c6120001")
	for _, tc := range []struct {
		name string
		mut  func([]byte) []byte
		want bool
	}{
		{"ok", func(b []byte) []byte { return b }, true},
		{"short", func(b []byte) []byte { return b[:19] }, false},
		{"version6", func(b []byte) []byte { b[0] = 0x65; return b }, false},
		{"ihl4", func(b []byte) []byte { b[0] = 0x44; return b }, false},
		{"ihl6 past end", func(b []byte) []byte { b[0] = 0x46; return b }, false},
		{"total too long", func(b []byte) []byte { b[3] = 21; return b }, false},
		{"total shorter than header", func(b []byte) []byte { b[3] = 19; return b }, false},
	} {
		b := tc.mut(append([]byte(nil), base...))
		if got := IPv4(b).Valid(); got != tc.want {
			t.Errorf("%s: Valid = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIPv6RoundTrip(t *testing.T) {
	b := make([]byte, 48)
	src, dst := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8:ffff::2")
	EncodeIPv6(b, 0xa5, 8, ProtoUDP, 63, src, dst)
	h := IPv6(b)
	if !h.Valid() || h.Src() != src || h.Dst() != dst || h.NextHeader() != ProtoUDP || h.HopLimit() != 63 ||
		h.TrafficClass() != 0xa5 || len(h.Payload()) != 8 || IPVersion(b) != 6 {
		t.Fatalf("fields do not round-trip: % x", b[:40])
	}
	h.SetPayloadLength(9)
	if h.Valid() {
		t.Fatal("payload length past end accepted")
	}
}

func TestUDPAndNATT(t *testing.T) {
	b := make([]byte, 9)
	EncodeUDP(b, 4500, 4501, 9)
	u := UDP(b)
	u[8] = 0xff
	if !u.Valid() || u.SrcPort() != 4500 || u.DstPort() != 4501 || u.Checksum() != 0 || !IsNATKeepalive(u.Payload()) {
		t.Fatal("udp/keepalive round trip failed")
	}
	if IsNATKeepalive([]byte{0xff, 0}) || IsNATKeepalive([]byte{0}) {
		t.Fatal("non-keepalive accepted")
	}
	if !IsNonESPMarker([]byte{0, 0, 0, 0, 1}) || IsNonESPMarker([]byte{0, 0, 0, 1}) || IsNonESPMarker([]byte{0, 0}) {
		t.Fatal("non-ESP marker check wrong")
	}
}

// A GRE header as Linux ip_gre sends it with "key 42" and sequence numbers,
// carrying MPLS: 30 00 88 47 | 00 00 00 2a | 00 00 00 07.
func TestGREGolden(t *testing.T) {
	golden := mustHex(t, "30008847"+"0000002a"+"00000007"+"abcd")
	g := GRE(golden)
	if !g.Valid() || g.HeaderLen() != 12 || g.Protocol() != EtherTypeMPLS || !g.HasKey() || g.Key() != 42 ||
		!g.HasSeq() || g.Seq() != 7 || !bytes.Equal(g.Payload(), []byte{0xab, 0xcd}) || !g.ChecksumValid() {
		t.Fatalf("golden GRE misparsed")
	}
	out := make([]byte, 12)
	n := EncodeGRE(out, EtherTypeMPLS, GREOptions{Key: 42, HasKey: true, Seq: 7, HasSeq: true})
	if n != 12 || !bytes.Equal(out, golden[:12]) {
		t.Fatalf("EncodeGRE = % x, want % x", out[:n], golden[:12])
	}
	plain := make([]byte, 4)
	if EncodeGRE(plain, EtherTypeIPv4, GREOptions{}) != 4 || !bytes.Equal(plain, []byte{0, 0, 8, 0}) {
		t.Fatalf("plain GRE = % x", plain)
	}
	for _, bad := range []string{"0000", "00010800", "40000800", "20000800000000", "08000800"} {
		if GRE(mustHex(t, bad)).Valid() {
			t.Errorf("GRE %s accepted", bad)
		}
	}
	// Checksum present: header+payload sums to 0xffff.
	c := mustHex(t, "800008000000000045")
	GRE(c)[4], GRE(c)[5] = 0, 0
	sum := ^Checksum(c, 0)
	c[4], c[5] = byte(sum>>8), byte(sum)
	if !GRE(c).Valid() || GRE(c).HeaderLen() != 8 || !GRE(c).ChecksumValid() {
		t.Fatal("checksummed GRE rejected")
	}
}

func TestMPLS(t *testing.T) {
	b := make([]byte, 8)
	EncodeMPLS(b, 16, 5, false, 64)
	EncodeMPLS(b[4:], 1048575, 0, true, 1)
	if !bytes.Equal(b, mustHex(t, "00010a40fffff101")) {
		t.Fatalf("encoded % x", b)
	}
	e := MPLS(b)
	if e.Label() != 16 || e.TC() != 5 || e.BottomOfStack() || e.TTL() != 64 {
		t.Fatal("entry 0 misparsed")
	}
	if MPLS(b[4:]).Label() != LabelMax || !MPLS(b[4:]).BottomOfStack() {
		t.Fatal("entry 1 misparsed")
	}
	if MPLSStackLen(b, 4) != 8 || MPLSStackLen(b[:4], 4) != 0 || MPLSStackLen(b, 1) != 0 {
		t.Fatal("MPLSStackLen wrong")
	}
}

func TestESPView(t *testing.T) {
	b := mustHex(t, "00001000000000ff")
	e := ESP(b)
	if !e.Valid() || e.SPI() != 0x1000 || e.Seq() != 255 {
		t.Fatal("esp misparsed")
	}
	e.SetSPI(0)
	if e.Valid() {
		t.Fatal("SPI 0 accepted")
	}
}

func TestCMDForms(t *testing.T) {
	// Ethernet form as Wireshark's cisco-metadata dissector shows it:
	// 89 09 | 01 01 00 01 00 11 08 00 (SGT 17, next IPv4).
	eth := mustHex(t, "0101000100110800")
	sgt, next, n, ok := CMDEthernet.Decode(eth)
	if !ok || sgt != 17 || next != EtherTypeIPv4 || n != 8 {
		t.Fatalf("ethernet form: %d %#x %d %v", sgt, next, n, ok)
	}
	out := make([]byte, 8)
	CMDEthernet.Encode(out, 17, EtherTypeIPv4)
	if !bytes.Equal(out, eth) {
		t.Fatalf("ethernet encode % x", out)
	}
	// GRE form: next protocol first.
	gre := mustHex(t, "86dd010100010bb8")
	sgt, next, n, ok = CMDGRE.Decode(gre)
	if !ok || sgt != 3000 || next != EtherTypeIPv6 || n != 8 {
		t.Fatalf("gre form: %d %#x %d %v", sgt, next, n, ok)
	}
	CMDGRE.Encode(out, 3000, EtherTypeIPv6)
	if !bytes.Equal(out, gre) {
		t.Fatalf("gre encode % x", out)
	}
	// IP-protocol reading of the ESP-inline form.
	ipl := CMDLayout{NextIsIPProto: true}
	ipl.Encode(out, 5, uint16(ProtoIPv4IP))
	if sgt, next, _, ok := ipl.Decode(out); !ok || sgt != 5 || next != 4 {
		t.Fatal("ip-proto layout round trip failed")
	}
	// Length 2 with an unknown option before SGT is honoured.
	// Length 2 (16 bytes): an unknown option, the SGT option, an unknown
	// option, then the next EtherType; the length field is honoured.
	two := mustHex(t, "0102"+"0007abcd"+"00010063"+"00080000"+"0800")
	if sgt, next, n, ok := CMDEthernet.Decode(two); !ok || sgt != 0x63 || next != 0x0800 || n != 16 {
		t.Fatalf("two-unit CMD: %d %#x %d %v", sgt, next, n, ok)
	}
	for _, bad := range []string{"0201000100110800", "0100000100110800", "01010001ffff0800", "0101000200110800", "01020001001108", "010100"} {
		if _, _, _, ok := CMDEthernet.Decode(mustHex(t, bad)); ok {
			t.Errorf("CMD %s accepted", bad)
		}
	}
}
