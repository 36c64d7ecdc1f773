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
	return p.Compute(PSKPadKey(p, psk), signedOctets)
}

// PSKPadKey returns prf(Shared Secret, "Key Pad for IKEv2"), the key of
// PSKAuth's outer PRF. It depends only on the PRF and the key, so a caller
// authenticating many SAs with one pre-shared key may compute it once; it is
// as secret as the key itself.
func PSKPadKey(p PRF, psk []byte) []byte {
	return p.Compute(psk, []byte(keyPad))
}

// PSKAuthWithPad is PSKAuth for a pad key from PSKPadKey, computed over the
// signed octets' three parts (SignedOctets' arguments) without joining them
// first.
func PSKAuthWithPad(p PRF, padKey, skp, message, peerNonce, idPayloadBody []byte) []byte {
	mac := p.Compute(skp, idPayloadBody)
	if hp, ok := p.(hmacPRF); ok {
		m := hmac.New(hp.h, padKey)
		m.Write(message)
		m.Write(peerNonce)
		m.Write(mac)
		return m.Sum(make([]byte, 0, hp.size))
	}
	return p.Compute(padKey, append(append(append(make([]byte, 0, len(message)+len(peerNonce)+len(mac)), message...), peerNonce...), mac...))
}

// VerifyPSKAuth reports, in constant time, whether got is the AUTH data the
// peer must have sent for psk and signedOctets.
func VerifyPSKAuth(p PRF, psk, signedOctets, got []byte) bool {
	return hmac.Equal(PSKAuth(p, psk, signedOctets), got)
}
