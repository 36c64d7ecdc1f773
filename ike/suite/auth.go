package suite

import "crypto/hmac"

// keyPad is the constant of RFC 7296 §2.15 that turns a pre-shared key into a
// PRF key.
const keyPad = "Key Pad for IKEv2"

// SignedOctets builds the octets an AUTH payload covers (RFC 7296 §2.15):
// RealMessage | NonceData of the peer | prf(SK_p, RestOfIDPayload).
// message is the sender's complete first message (IKE_SA_INIT request for the
// initiator, response for the responder) as sent on the wire; peerNonce is
// the other side's Nonce data; skp is SK_pi for the initiator's AUTH and
// SK_pr for the responder's; idPayloadBody is the ID payload without its
// 4-byte generic header (ID type, 3 reserved bytes, identification data).
// The result is a new slice.
func SignedOctets(p PRF, skp, message, peerNonce, idPayloadBody []byte) []byte {
	mac := p.Compute(skp, idPayloadBody)
	out := make([]byte, 0, len(message)+len(peerNonce)+len(mac))
	out = append(out, message...)
	out = append(out, peerNonce...)
	return append(out, mac...)
}

// PSKAuth returns the AUTH data for shared key message integrity code
// authentication: prf(prf(Shared Secret, "Key Pad for IKEv2"), <signed octets>).
func PSKAuth(p PRF, psk []byte, signedOctets []byte) []byte {
	return p.Compute(p.Compute(psk, []byte(keyPad)), signedOctets)
}

// VerifyPSKAuth reports, in constant time, whether got is the AUTH data the
// peer must have sent for psk and signedOctets.
func VerifyPSKAuth(p PRF, psk, signedOctets, got []byte) bool {
	return hmac.Equal(PSKAuth(p, psk, signedOctets), got)
}
