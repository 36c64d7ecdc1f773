package pki

import (
	"crypto/rand"
	"fmt"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/ike/sig"
	"github.com/esphub/esphub/ike/wire"
)

// PeerAuth is what a peer's IKE_AUTH message carries for certificate
// authentication, as the engine extracted it.
type PeerAuth struct {
	// IDType and IDData are the peer's ID payload (IDi or IDr).
	IDType wire.IDType
	IDData []byte
	// Certs are the data of its CERT payloads with encoding X.509
	// Certificate - Signature (4), end entity first.
	Certs [][]byte
	// Method and AuthData are the AUTH payload; SignedOctets what it
	// covers (suite.SignedOctets with the peer's message, our nonce and
	// the peer's SK_p).
	Method       wire.AuthMethod
	AuthData     []byte
	SignedOctets []byte
}

// Authenticate runs the whole certificate check of a peer's IKE_AUTH in
// the order that gives the most useful failure: the chain against the
// trustpoint (including revocation), the identity binding, the
// certificate map (skipped when m is nil: `match certificate` is
// optional), and finally the AUTH signature with the certificate's key.
// It returns the validated certificate and the signature algorithm the
// peer used. Every failure is an *Error; a signature that does not verify
// is ReasonAuthSignature, wrapping the ike/sig error.
func (tp *Trustpoint) Authenticate(a PeerAuth, m *config.CertificateMap) (*PeerCertificate, sig.Algorithm, error) {
	if len(a.Certs) == 0 {
		return nil, sig.Algorithm{}, fail(ReasonMalformed, "", fmt.Errorf("no CERT payload (the peer must send its certificate)"))
	}
	pc, err := tp.Verify(a.Certs[0], a.Certs[1:])
	if err != nil {
		return nil, sig.Algorithm{}, err
	}
	if err := CheckIdentity(pc.Leaf, a.IDType, a.IDData); err != nil {
		return nil, sig.Algorithm{}, err
	}
	if m != nil {
		if err := CheckCertificateMap(m, pc.Leaf); err != nil {
			return nil, sig.Algorithm{}, err
		}
	}
	alg, err := sig.Verify(pc.Leaf.PublicKey, a.Method, a.AuthData, a.SignedOctets)
	if err != nil {
		return nil, alg, fail(ReasonAuthSignature, pc.Subject, err)
	}
	return pc, alg, nil
}

// SignAuth computes our AUTH payload for signedOctets with this
// credential's key: method 14 with a hash from the peer's
// SIGNATURE_HASH_ALGORITHMS list when there is a common one, else the
// classic method for the key (see sig.Choose). pss prefers RSASSA-PSS for
// RSA keys.
func (c *Credential) SignAuth(peerHashes []sig.Hash, pss bool, signedOctets []byte) (wire.AuthMethod, []byte, sig.Algorithm, error) {
	alg, err := sig.Choose(c.Key.Public(), peerHashes, pss)
	if err != nil {
		return 0, nil, alg, fmt.Errorf("sign auth: %w", err)
	}
	data, err := sig.Sign(rand.Reader, c.Key, alg, signedOctets)
	if err != nil {
		return 0, nil, alg, fmt.Errorf("sign auth: %w", err)
	}
	return alg.Method, data, alg, nil
}
