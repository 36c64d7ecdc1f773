package pki_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"time"

	"github.com/esphub/esphub/ike/sig"
	"github.com/esphub/esphub/pki"
)

// This is the flow the IKE engine follows for certificate authentication:
// the responder sends its trustpoint's CERTREQ, the initiator picks the
// credential that answers it and signs its AUTH, and the responder
// authenticates the whole IKE_AUTH in one call.
func Example() {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	caKey, _ := pki.GenerateKey(pki.KeyP256)
	ca, _ := pki.NewCA(caKey, pki.CAOptions{Subject: pkix.Name{CommonName: "lab root"}, NotBefore: now.Add(-time.Hour)})
	spokeKey, _ := pki.GenerateKey(pki.KeyP256)
	spokeCert, _ := ca.Issue(spokeKey.Public(), pki.IssueOptions{
		Subject: pkix.Name{CommonName: "spoke1", OrganizationalUnit: []string{"flex"}}, NotBefore: now.Add(-time.Hour)})

	// Responder (hub): one trustpoint, `revocation-check none`.
	hub, _ := pki.NewTrustpoint("lab", []*x509.Certificate{ca.Cert}, pki.Options{Revocation: pki.RevocationNone, Now: func() time.Time { return now }})
	certReq := hub.CertReq() // CERTREQ payload data in IKE_SA_INIT

	// Initiator (spoke): `identity local dn`, answering the CERTREQ.
	spoke, _ := pki.NewCredential([]*x509.Certificate{spokeCert, ca.Cert}, spokeKey)
	cred := pki.SelectCredential([]*pki.Credential{spoke}, certReq)
	idType, idData := pki.LocalIdentityDN(cred.Leaf())
	signedOctets := []byte("from suite.SignedOctets")
	method, auth, _, _ := cred.SignAuth(sig.LocalHashes, false, signedOctets)

	// Responder: chain, identity, certificate map (none here), signature.
	pc, alg, err := hub.Authenticate(pki.PeerAuth{
		IDType: idType, IDData: idData, Certs: cred.CertPayloads(certReq),
		Method: method, AuthData: auth, SignedOctets: signedOctets,
	}, nil)
	if err != nil {
		fmt.Println("refused:", pki.ReasonOf(err), err)
		return
	}
	fmt.Println("peer:", pc.Subject)
	fmt.Println("issuer:", pc.Issuer)
	fmt.Println("auth:", alg)

	// A different signed octet string (a replay into another SA) fails
	// with a reason the engine counts.
	_, _, err = hub.Authenticate(pki.PeerAuth{
		IDType: idType, IDData: idData, Certs: cred.CertPayloads(certReq),
		Method: method, AuthData: auth, SignedOctets: []byte("other"),
	}, nil)
	fmt.Println("replay:", pki.ReasonOf(err))
	// Output:
	// peer: cn=spoke1,ou=flex
	// issuer: cn=lab root
	// auth: ECDSA-SHA2_256 (method 14)
	// replay: auth_signature
}
