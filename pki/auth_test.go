package pki

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/ike/sig"
	"github.com/esphub/esphub/ike/wire"
)

func TestAuthenticate(t *testing.T) {
	l := newLab(t)
	octets := []byte("initiator's IKE_SA_INIT | Nr | prf(SK_pi, IDi')")
	spoke, err := NewCredential([]*x509.Certificate{l.viaInter, l.inter.Cert, l.root.Cert}, l.interLeafKey)
	if err != nil {
		t.Fatal(err)
	}
	hub := trustpoint(t, RevocationNone, l.root.Cert)
	cfg, diags := config.Parse("m.cfg", []byte("crypto pki certificate map spokes 10\n subject-name co spoke\ncrypto pki certificate map hubs 10\n subject-name co hub\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	spokes, hubs := cfg.CertMap("spokes"), cfg.CertMap("hubs")

	idType, idData := LocalIdentityDN(spoke.Leaf())
	method, data, alg, err := spoke.SignAuth(sig.LocalHashes, false, octets)
	if err != nil {
		t.Fatal(err)
	}
	if method != wire.AuthDigitalSignature || alg.Hash != sig.HashSHA384 {
		t.Fatalf("P-384 key signed with %v", alg)
	}
	good := PeerAuth{IDType: idType, IDData: idData, Certs: spoke.CertPayloads(hub.CertReq()), Method: method, AuthData: data, SignedOctets: octets}
	pc, got, err := hub.Authenticate(good, spokes)
	if err != nil {
		t.Fatal(err)
	}
	if pc.Subject != "cn=spoke2.example" || got != alg {
		t.Fatalf("authenticated %s with %v", pc.Subject, got)
	}
	// Without SIGNATURE_HASH_ALGORITHMS the classic method 10 is used.
	m10, d10, _, err := spoke.SignAuth(nil, false, octets)
	if err != nil || m10 != wire.AuthECDSA384 {
		t.Fatalf("classic: %v %v", m10, err)
	}
	classic := good
	classic.Method, classic.AuthData = m10, d10
	if _, _, err := hub.Authenticate(classic, nil); err != nil {
		t.Fatalf("classic method: %v", err)
	}

	mod := func(f func(*PeerAuth)) PeerAuth { a := good; f(&a); return a }
	cases := []struct {
		name string
		a    PeerAuth
		m    *config.CertificateMap
		want Reason
	}{
		{"no cert", mod(func(a *PeerAuth) { a.Certs = nil }), nil, ReasonMalformed},
		{"missing intermediate", mod(func(a *PeerAuth) { a.Certs = a.Certs[:1] }), nil, ReasonUnknownCA},
		{"other identity", mod(func(a *PeerAuth) { a.IDType, a.IDData = wire.IDFQDN, []byte("spoke1.example") }), nil, ReasonIdentityMismatch},
		{"certificate map", good, hubs, ReasonCertificateMapMismatch},
		{"other octets", mod(func(a *PeerAuth) { a.SignedOctets = []byte("replayed") }), nil, ReasonAuthSignature},
		{"method mismatch", mod(func(a *PeerAuth) { a.Method = wire.AuthECDSA256 }), nil, ReasonAuthSignature},
		{"someone else's certificate", mod(func(a *PeerAuth) {
			a.Certs = [][]byte{l.spoke2.Raw}
			a.IDData = l.spoke2.RawSubject
		}), nil, ReasonAuthSignature},
	}
	for _, c := range cases {
		_, _, err := hub.Authenticate(c.a, c.m)
		if ReasonOf(err) != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	var se *Error
	_, _, err = hub.Authenticate(cases[4].a, nil)
	if !errors.As(err, &se) || !errors.Is(err, sig.ErrBadSignature) {
		t.Fatalf("AUTH failure does not wrap the sig error: %v", err)
	}
}
