package ike

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/esphub/esphub/ike/sig"
	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/pki"
)

// Certificate authentication (RFC 7296 §2.15 and §3.6-3.8, RFC 7427). A
// profile with LocalCredential signs our AUTH (RFC 7427 method 14 with a
// hash from the peer's SIGNATURE_HASH_ALGORITHMS, else the classic method
// for the key) and sends its chain in CERT payloads, cut at the CA the
// peer's CERTREQ names. A profile with Trustpoint accepts peers that sign:
// chain validation (with revocation), identity binding, the profile's
// certificate map and the signature are pki.Trustpoint.Authenticate's job;
// refusals are counted by pki.Reason. PSK stays available on the same
// profile: the AUTH method the peer uses picks the check.

// maxCertReasons bounds the pki.Reason values counted.
const maxCertReasons = 32

// certRejects counts refused peer certificates by pki.Reason.
type certRejects [maxCertReasons]atomic.Uint64

// CertificateRejects returns how many peer certificates were refused, by
// pki.Reason label ("expired", "revoked", "untrusted", ...). Safe for
// concurrent use.
func (e *Engine) CertificateRejects() map[string]uint64 {
	m := make(map[string]uint64)
	for _, r := range pki.Reasons() {
		if int(r) < maxCertReasons {
			m[r.String()] = e.certRejects[r].Load()
		}
	}
	return m
}

// signatureHashes is the SIGNATURE_HASH_ALGORITHMS notify we send.
func signatureHashes() *wire.Notify {
	return notify(wire.NotifySignatureHashAlgorithms, sig.AppendHashAlgorithms(nil, sig.LocalHashes...))
}

// wantsSignatures reports whether an initiator profile uses certificates
// on either side, so IKE_SA_INIT should offer RFC 7427 hashes.
func (p *Profile) wantsSignatures() bool {
	return p != nil && (p.LocalCredential != nil || p.Trustpoint != nil)
}

// notePeerCertInfo records the peer's signature hashes and CERTREQ from
// its IKE_SA_INIT (both optional).
func (sa *ikeSA) notePeerCertInfo(m *inMessage) {
	if n := m.notify(wire.NotifySignatureHashAlgorithms); n != nil {
		if hs, err := sig.ParseHashAlgorithms(nil, n.Data); err == nil {
			sa.peerHashes = hs
		}
	}
	sa.notePeerCertReq(m)
}

// notePeerCertReq keeps the CA hashes of the peer's X.509 CERTREQs.
func (sa *ikeSA) notePeerCertReq(m *inMessage) {
	for _, p := range m.payloads {
		if cr, ok := p.(*wire.CertReq); ok && cr.Encoding == wire.CertX509Signature {
			sa.peerCertReq = append(sa.peerCertReq, cr.Authorities...)
		}
	}
}

// signedOctets are the octets one side's AUTH covers (RFC 7296 §2.15).
func (sa *ikeSA) signedOctets(initiatorSide bool, id *wire.ID) []byte {
	msg, nonce := sa.hs.initResp, sa.hs.ni
	if initiatorSide {
		msg, nonce = sa.hs.initReq, sa.hs.nr
	}
	return suite.SignedOctets(sa.prf, sa.skp(initiatorSide), msg, nonce, id.AppendBody(nil))
}

// localAuth returns our CERT payloads (none for PSK) and AUTH payload.
func (sa *ikeSA) localAuth(prof *Profile, initiatorSide bool, id *wire.ID) ([]wire.Payload, *wire.Auth, error) {
	cred := prof.LocalCredential
	if cred == nil {
		return nil, &wire.Auth{Method: wire.AuthSharedKeyMIC, Data: sa.pskAuth(prof.LocalPSK, initiatorSide, id)}, nil
	}
	var certs []wire.Payload
	for _, der := range cred.CertPayloads(sa.peerCertReq) {
		certs = append(certs, &wire.Cert{Encoding: wire.CertX509Signature, Data: der})
	}
	method, data, _, err := cred.SignAuth(sa.peerHashes, prof.PreferPSS, sa.signedOctets(initiatorSide, id))
	if err != nil {
		return nil, nil, fmt.Errorf("auth: %w", err)
	}
	return certs, &wire.Auth{Method: method, Data: data}, nil
}

// certReqPayload is the CERTREQ naming the profile's trustpoint, or nil.
func certReqPayload(prof *Profile) []wire.Payload {
	if prof == nil || prof.Trustpoint == nil || len(prof.Trustpoint.CertReq()) == 0 {
		return nil
	}
	return []wire.Payload{&wire.CertReq{Encoding: wire.CertX509Signature, Authorities: prof.Trustpoint.CertReq()}}
}

// verifyPeerAuth checks the peer's AUTH payload against the profile: the
// PSK for method 2, the trustpoint for signatures. The error wraps
// ErrAuthFailed (and the *pki.Error for certificate refusals).
func (sa *ikeSA) verifyPeerAuth(prof *Profile, initiatorSide bool, id *wire.ID, a *wire.Auth, m *inMessage) error {
	if a == nil {
		return fmt.Errorf("%w: no AUTH payload", ErrAuthFailed)
	}
	if a.Method == wire.AuthSharedKeyMIC {
		if !sa.verifyAuth(prof.RemotePSK, initiatorSide, id, a) {
			return fmt.Errorf("%w: AUTH payload does not verify", ErrAuthFailed)
		}
		return nil
	}
	tp := prof.Trustpoint
	if tp == nil {
		return fmt.Errorf("%w: peer signs (AUTH method %d) but profile %q has no trustpoint", ErrAuthFailed, a.Method, prof.Name)
	}
	var certs [][]byte
	for _, p := range m.payloads {
		if c, ok := p.(*wire.Cert); ok && c.Encoding == wire.CertX509Signature {
			certs = append(certs, bytes.Clone(c.Data))
		}
	}
	pc, _, err := tp.Authenticate(pki.PeerAuth{
		IDType: id.IDType, IDData: id.Data, Certs: certs,
		Method: a.Method, AuthData: a.Data, SignedOctets: sa.signedOctets(initiatorSide, id),
	}, prof.CertificateMap)
	if err != nil {
		sa.e.stats.inc(CounterCertRejected)
		if r := pki.ReasonOf(err); r > 0 && int(r) < maxCertReasons {
			sa.e.certRejects[r].Add(1)
		}
		return fmt.Errorf("%w: %w", ErrAuthFailed, err)
	}
	if algs := prof.PeerKeyAlgorithms; len(algs) > 0 && !slices.Contains(algs, pc.Leaf.PublicKeyAlgorithm) {
		return fmt.Errorf("%w: peer signed with a %v key; profile %q accepts %v", ErrAuthFailed, pc.Leaf.PublicKeyAlgorithm, prof.Name, algs)
	}
	sa.peerCert = pc
	return nil
}

// DisconnectRevoked implements `crypto ikev2 disconnect-revoked-peers`:
// after a new CRL was loaded into tp, it deletes (with a Delete to the
// peer) every established IKE SA whose peer authenticated with a
// certificate chain tp now lists as revoked, and returns how many it
// deleted. IKEv2 does not re-validate certificates on rekey, so this is
// where revocation reaches live sessions. Safe for concurrent use.
func (e *Engine) DisconnectRevoked(ctx context.Context, tp *pki.Trustpoint) (int, error) {
	var spis []uint64
	err := e.call(ctx, func() {
		var chains [][]*x509.Certificate
		var cand []uint64
		for spi, sa := range e.sas {
			if sa.state == stateEstablished && sa.peerCert != nil && sa.profile != nil && sa.profile.Trustpoint == tp {
				chains = append(chains, sa.peerCert.Chain)
				cand = append(cand, spi)
			}
		}
		for _, i := range tp.RevokedAmong(chains) {
			spis = append(spis, cand[i])
		}
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, spi := range spis {
		e.log.Info("ike: disconnecting peer with a revoked certificate", "spi", hexSPI(spi))
		if err := e.DeleteIKESA(ctx, spi); err == nil || errors.Is(err, ErrTimeout) {
			n++
		} else if !errors.Is(err, ErrNoSA) {
			return n, fmt.Errorf("disconnect revoked peer: %w", err)
		}
	}
	return n, nil
}

// firstCert parses the end-entity certificate of a message's first X.509
// CERT payload, without verifying it; nil when there is none or it does
// not parse.
func firstCert(m *inMessage) *x509.Certificate {
	for _, p := range m.payloads {
		if c, ok := p.(*wire.Cert); ok && c.Encoding == wire.CertX509Signature {
			cert, err := x509.ParseCertificate(c.Data)
			if err != nil {
				return nil
			}
			return cert
		}
	}
	return nil
}

// authName names how one side authenticated, as IOS's "Auth sign" and
// "Auth verify" do: PSK, or the certificate key's algorithm.
func authName(cert *x509.Certificate) string {
	if cert == nil {
		return "PSK"
	}
	switch cert.PublicKeyAlgorithm {
	case x509.RSA:
		return "RSA"
	case x509.ECDSA:
		return "ECDSA"
	case x509.Ed25519:
		return "EdDSA"
	}
	return cert.PublicKeyAlgorithm.String()
}
