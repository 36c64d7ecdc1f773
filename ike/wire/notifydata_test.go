package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

// decodeNotifyRT encodes n and decodes it back, as a peer would see it.
func decodeNotifyRT(t *testing.T, n *Notify) *Notify {
	t.Helper()
	b, err := AppendPayloadChain(nil, []Payload{n})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := DecodePayloads(PayloadNotify, b)
	if err != nil {
		t.Fatal(err)
	}
	return ps[0].(*Notify)
}

func TestNotifyData(t *testing.T) {
	hash := seq(20, 1)
	if got, err := decodeNotifyRT(t, NewNATDetection(true, hash)).NATDetectionHash(); err != nil || !bytes.Equal(got, hash) {
		t.Errorf("NAT-D source = %x %v", got, err)
	}
	if n := decodeNotifyRT(t, NewNATDetection(false, hash)); n.NotifyType != NotifyNATDetectionDestinationIP {
		t.Errorf("NAT-D dest type %v", n.NotifyType)
	}
	if _, err := NewNATDetection(true, hash[:19]).NATDetectionHash(); err == nil {
		t.Error("19-byte NAT-D accepted")
	}
	if got, err := decodeNotifyRT(t, NewCookie(seq(32, 0))).Cookie(); err != nil || len(got) != 32 {
		t.Errorf("cookie = %x %v", got, err)
	}
	if _, err := NewCookie(seq(65, 0)).Cookie(); err == nil {
		t.Error("65-byte cookie accepted")
	}
	if g, err := decodeNotifyRT(t, NewInvalidKE(DHMODP2048)).InvalidKEGroup(); err != nil || g != DHMODP2048 {
		t.Errorf("INVALID_KE group = %v %v", g, err)
	}
	if w, err := decodeNotifyRT(t, NewSetWindowSize(8)).WindowSize(); err != nil || w != 8 {
		t.Errorf("window = %d %v", w, err)
	}
	if _, err := NewSetWindowSize(0).WindowSize(); err == nil {
		t.Error("window 0 accepted")
	}
	if p, spi, err := decodeNotifyRT(t, NewRekeySA(ProtocolESP, 0xc0ffee01)).RekeySA(); err != nil || p != ProtocolESP || spi != 0xc0ffee01 {
		t.Errorf("REKEY_SA = %v %x %v", p, spi, err)
	}
	if _, _, err := NewNotify(NotifyRekeySA, nil).RekeySA(); err == nil {
		t.Error("REKEY_SA without SPI accepted")
	}
	ids, err := decodeNotifyRT(t, NewSignatureHashAlgorithms(2, 3, 4)).SignatureHashAlgorithms(nil)
	if err != nil || len(ids) != 3 || ids[2] != 4 {
		t.Errorf("hash algorithms = %v %v", ids, err)
	}
}

func TestRedirect(t *testing.T) {
	nonce := seq(32, 0x10)
	tests := []struct {
		gw    Gateway
		nonce []byte
		data  string
	}{
		{Gateway{Addr: netip.MustParseAddr("198.18.1.2")}, nil, "0104c6120102"},
		{Gateway{Addr: netip.MustParseAddr("2001:db8::1")}, nil, "021020010db8000000000000000000000001"},
		{Gateway{FQDN: "hub2.example"}, nonce, "030c" + "68756232 2e657861 6d706c65" + "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"},
	}
	for _, tt := range tests {
		n, err := NewRedirect(tt.gw, tt.nonce)
		if err != nil {
			t.Fatal(err)
		}
		if want := hexBytes(t, tt.data); !bytes.Equal(n.Data, want) {
			t.Errorf("REDIRECT data %x, want %x", n.Data, want)
		}
		gw, gotNonce, err := decodeNotifyRT(t, n).Redirect()
		if err != nil || gw != tt.gw || !bytes.Equal(gotNonce, tt.nonce) {
			t.Errorf("Redirect() = %v %x %v, want %v", gw, gotNonce, err, tt.gw)
		}
	}
	from, _ := NewRedirectedFrom(Gateway{Addr: netip.MustParseAddr("198.18.1.1")})
	if gw, _, err := from.Redirect(); err != nil || gw.String() != "198.18.1.1" {
		t.Errorf("REDIRECTED_FROM = %v %v", gw, err)
	}
	for _, bad := range []string{"", "01", "0105c612010203", "0404c6120102", "0300"} {
		n := &Notify{NotifyType: NotifyRedirect, Data: hexBytes(t, bad)}
		if _, _, err := n.Redirect(); err == nil {
			t.Errorf("REDIRECT data %s accepted", bad)
		}
	}
}

func TestVendorIdentify(t *testing.T) {
	tests := []struct {
		data []byte
		want Vendor
	}{
		{hexBytes(t, "464c455856504e2d535550504f52544544"), VendorFlexVPN},
		{hexBytes(t, "434953434f2d44454c4554452d524541534f4e"), VendorDeleteReason},
		{hexBytes(t, "434953434f2d44594e414d49432d524f555445"), VendorDynamicRoute},
		{hexBytes(t, "434953434F2D4354532D534754"), VendorCTSSGT},
		{hexBytes(t, "4048b7d56ebce88525e7de7f00d6c2d3"), VendorCiscoFragmentation},
		{hexBytes(t, "4048b7d56ebce88525e7de7f00d6c2d380000000"), VendorCiscoFragmentation},
		{hexBytes(t, "12f5f28c457168a9702d9fe274cc0100"), VendorCiscoUnity},
		{[]byte("strongSwan"), VendorUnknown},
	}
	for _, tt := range tests {
		if got := Identify(tt.data); got != tt.want {
			t.Errorf("Identify(%q) = %v, want %v", tt.data, got, tt.want)
		}
	}
}

// TestNotifyProtocolWithoutSPI: a notify that names ESP but carries no SPI
// is legal (the Protocol ID of an SPI-less notify is ignored, RFC 7296 §3.10).
func TestNotifyProtocolWithoutSPI(t *testing.T) {
	n := decodeNotifyRT(t, &Notify{Protocol: ProtocolESP, NotifyType: NotifyESPTFCPaddingNotSupported})
	if n.Protocol != ProtocolESP || len(n.SPI) != 0 {
		t.Fatalf("notify = %+v", n)
	}
}
