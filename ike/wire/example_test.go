package wire_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/netip"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

// A responder decodes an IKE_SA_INIT request and answers what it cannot parse
// with the notify the decoder chose.
func ExampleDecode() {
	req := &wire.Message{
		Header: wire.Header{SPIi: 0x1122334455667788, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{
			&wire.SA{Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtocolIKE, Transforms: []wire.Transform{
				wire.EncrTransform(wire.EncrAESGCM16, 256), wire.PRFTransform(wire.PRFHMACSHA2256), wire.DHTransform(wire.DHECP256)}}}},
			&wire.KE{Group: wire.DHECP256, Data: bytes.Repeat([]byte{4}, 64)},
			&wire.Nonce{Data: bytes.Repeat([]byte{1}, 32)},
			wire.NewVendorID(wire.VendorFlexVPNSupported),
		},
	}
	b, _ := req.Encode()
	m, err := wire.Decode(b)
	if err != nil {
		n, data, _ := wire.NotifyFor(err)
		fmt.Println("answer with", n, data)
		return
	}
	fmt.Println(m)
	fmt.Println(wire.Identify(wire.First[*wire.VendorID](m.Payloads).Data))

	b[17] = 0x30 // an IKEv3 peer
	_, err = wire.Decode(b)
	n, _, _ := wire.NotifyFor(err)
	fmt.Println("answer with", n)
	// Output:
	// IKE_SA_INIT request 0 [ SA KE No V ]
	// FLEXVPN-SUPPORTED
	// answer with INVALID_MAJOR_VERSION
}

// The engine seals IKE_AUTH payloads into an SK payload with an ike/suite
// cipher, and the peer opens them again.
func ExampleAppendProtected() {
	p := suite.Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256}
	key := make([]byte, 36)
	rand.Read(key)
	out, _ := suite.NewSKCipher(p, key, nil)
	in, _ := suite.NewSKCipher(p, key, nil)

	h := wire.Header{SPIi: 1, SPIr: 2, Exchange: wire.ExchangeIKEAuth, Flags: wire.FlagInitiator, MessageID: 1}
	b, err := wire.AppendProtected(nil, h, nil, []wire.Payload{
		&wire.ID{IDType: wire.IDFQDN, Data: []byte("spoke1.example")},
		&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: bytes.Repeat([]byte{9}, 32)},
	}, out, rand.Reader)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := wire.Decode(b)
	ps, _, err := wire.Open(m, in, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m, string(wire.AppendSummary(nil, ps)))
	// Output: IKE_AUTH request 1 [ SK ] [ IDi AUTH ]
}

// A FlexVPN hub narrows a spoke's 0.0.0.0/0 proposal to what its policy allows.
func ExampleNarrow() {
	proposed := []wire.TrafficSelector{wire.TSAny(false)}
	allowed := []wire.TrafficSelector{
		wire.TSFromPrefix(netip.MustParsePrefix("198.18.10.0/24")),
		wire.TSFromRange(netip.MustParseAddr("198.18.20.1"), netip.MustParseAddr("198.18.20.6"), 47, 0, 65535),
	}
	for _, ts := range wire.Narrow(nil, proposed, allowed) {
		fmt.Println(ts, ts.AppendPrefixes(nil))
	}
	// Output:
	// 198.18.10.0/24 [198.18.10.0/24]
	// 198.18.20.1..198.18.20.6[47] [198.18.20.1/32 198.18.20.2/31 198.18.20.4/31 198.18.20.6/32]
}
