package wire

import (
	"net/netip"
	"slices"
	"testing"
)

// TestMPLSLabelExtension: a resolution reply carrying the label extension
// round-trips through Encode and Decode byte for byte, the labels come
// back, and malformed values are refused.
func TestMPLSLabelExtension(t *testing.T) {
	ext, err := NewMPLSLabel(40, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x00, 0x02, 0x80, 0x00, 0x00, 0x00, 0x31, 0x00}; !slices.Equal(ext.Data, want) {
		t.Fatalf("wire form % x, want % x", ext.Data, want)
	}
	p := &Packet{AFN: AFNIPv4, ProType: ProtoIPv4, HopCount: 1, Type: TypeResolutionReply, Flags: 0x8000, RequestID: 7,
		SrcNBMA: netip.MustParseAddr("198.18.2.2"), SrcProto: netip.MustParseAddr("198.19.255.1"), DstProto: netip.MustParseAddr("198.19.2.10"),
		CIEs:       []CIE{{PrefixLen: 24, MTU: 1400, HoldTime: 7200, NBMA: netip.MustParseAddr("198.18.2.2"), Proto: netip.MustParseAddr("198.19.2.0")}},
		Extensions: []Extension{ext}}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	x := q.Ext(ExtMPLSLabel)
	if x == nil || x.Compulsory {
		t.Fatalf("extension lost or compulsory: %+v", q.Extensions)
	}
	if ls, ok := x.MPLSLabels(); !ok || !slices.Equal(ls, []uint32{40, 3}) {
		t.Fatalf("labels %v %v", ls, ok)
	}
	if again, _ := q.Encode(); !slices.Equal(again, b) {
		t.Fatal("re-encode differs")
	}
	for _, bad := range [][]byte{
		{},
		{0, 1, 0x81},             // not whole entries
		{0x00, 0x02, 0x80, 0x00}, // no bottom of stack
		{0x00, 0x02, 0x81, 0x00, 0x00, 0x03, 0x11, 0x0}, // bottom of stack on the first
		{0x00, 0x00, 0x11, 0x00},                        // label 1 (router alert)
	} {
		x := Extension{Type: ExtMPLSLabel, Data: bad}
		if ls, ok := x.MPLSLabels(); ok {
			t.Errorf("% x accepted as %v", bad, ls)
		}
	}
	if _, err := NewMPLSLabel(); err == nil {
		t.Error("no labels accepted")
	}
	if _, err := NewMPLSLabel(1 << 20); err == nil {
		t.Error("21-bit label accepted")
	}
	other := Extension{Type: ExtVendorPrivate, Data: ext.Data}
	if _, ok := other.MPLSLabels(); ok {
		t.Error("another extension read as labels")
	}
}

// FuzzMPLSLabels: the accessor never panics, and what it accepts encodes
// back to the same bytes.
func FuzzMPLSLabels(f *testing.F) {
	e, _ := NewMPLSLabel(40, 3)
	f.Add(e.Data)
	f.Add([]byte{0x00, 0x01, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		x := Extension{Type: ExtMPLSLabel, Data: b}
		ls, ok := x.MPLSLabels()
		if !ok {
			return
		}
		y, err := NewMPLSLabel(ls...)
		if err != nil {
			t.Fatalf("accepted labels %v do not encode: %v", ls, err)
		}
		// TC and TTL are not kept; compare the label and S bits only.
		for i := range ls {
			if (y.Data[4*i]^b[4*i]) != 0 || y.Data[4*i+1] != b[4*i+1] || (y.Data[4*i+2]^b[4*i+2])&0xf1 != 0 {
				t.Fatalf("round trip of % x gave % x", b, y.Data)
			}
		}
	})
}

func TestVRFLabel(t *testing.T) {
	x, err := NewVRFLabel(17)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := x.VRFLabel(); !ok || l != 17 {
		t.Fatalf("VRFLabel = %d, %v", l, ok)
	}
	if _, err := NewVRFLabel(3); err == nil {
		t.Error("implicit null accepted as a VRF label")
	}
	two, _ := NewMPLSLabel(17, 18)
	two.Type = ExtVRFLabel
	if _, ok := two.VRFLabel(); ok {
		t.Error("two labels read as a VRF label")
	}
	p := &Packet{AFN: AFNIPv4, ProType: ProtoIPv4, HopCount: 64, Type: TypeResolutionRequest, RequestID: 7,
		SrcNBMA: netip.MustParseAddr("198.18.1.2"), SrcProto: netip.MustParseAddr("198.19.255.1"),
		DstProto: netip.MustParseAddr("198.19.2.10"), CIEs: []CIE{{PrefixLen: 0xff}},
		Extensions: []Extension{x, {Type: ExtEnd, Compulsory: true}}}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := PacketVRFLabel(b); !ok || l != 17 {
		t.Fatalf("PacketVRFLabel = %d, %v", l, ok)
	}
	if ty, id, ok := PacketRequestID(b); !ok || ty != TypeResolutionRequest || id != 7 {
		t.Fatalf("PacketRequestID = %v %d %v", ty, id, ok)
	}
	p.Extensions = p.Extensions[1:]
	b, _ = p.Encode()
	if _, ok := PacketVRFLabel(b); ok {
		t.Error("a packet without the extension has a VRF label")
	}
}

// FuzzVRFLabel: the accessors never panic, and an accepted label encodes
// back to a label extension.
func FuzzVRFLabel(f *testing.F) {
	x, _ := NewVRFLabel(40)
	f.Add(x.Data)
	f.Add([]byte{0x00, 0x00, 0x31, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = PacketVRFLabel(b)
		x := Extension{Type: ExtVRFLabel, Data: b}
		l, ok := x.VRFLabel()
		if !ok {
			return
		}
		if _, err := NewVRFLabel(l); err != nil {
			t.Fatalf("accepted label %d does not encode: %v", l, err)
		}
	})
}
