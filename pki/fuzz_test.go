package pki

import (
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

// FuzzVerify feeds arbitrary CERT payload bytes to a trustpoint: it must
// never panic and must never accept what the lab CA did not issue.
func FuzzVerify(f *testing.F) {
	l := newLab(f)
	tp := trustpoint(f, RevocationNone, l.root.Cert)
	f.Add(l.leaf.Raw, l.inter.Cert.Raw)
	f.Add(l.viaInter.Raw, l.inter.Cert.Raw)
	f.Add(l.forged.Raw, []byte{})
	f.Fuzz(func(t *testing.T, leaf, inter []byte) {
		var inters [][]byte
		if len(inter) > 0 {
			inters = [][]byte{inter}
		}
		pc, err := tp.Verify(leaf, inters)
		if err != nil {
			if ReasonOf(err) == 0 {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		issued := false
		for _, c := range []([]byte){l.leaf.Raw, l.viaInter.Raw, l.spoke2.Raw, l.codeSign.Raw, l.expired.Raw, l.future.Raw} {
			if string(c) == string(pc.Leaf.Raw) {
				issued = true
			}
		}
		if !issued {
			t.Fatalf("accepted a certificate the lab never issued: %s", pc.Subject)
		}
	})
}

// FuzzIdentity checks identity binding and DN rendering against arbitrary
// ID payload data.
func FuzzIdentity(f *testing.F) {
	l := newLab(f)
	f.Add(uint8(wire.IDDERASN1DN), l.leaf.RawSubject)
	f.Add(uint8(wire.IDFQDN), []byte("spoke1.example"))
	f.Add(uint8(wire.IDIPv4Addr), []byte{198, 18, 0, 1})
	f.Add(uint8(wire.IDRFC822), []byte("ops@spoke1.example"))
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		if _, err := FormatRawDN(data); err != nil && ReasonOf(err) != ReasonMalformed {
			t.Fatalf("FormatRawDN: %v", err)
		}
		err := CheckIdentity(l.leaf, wire.IDType(typ), data)
		if err != nil && ReasonOf(err) != ReasonIdentityMismatch {
			t.Fatalf("reason %v", ReasonOf(err))
		}
	})
}

// FuzzParseCertReq splits arbitrary CERTREQ data.
func FuzzParseCertReq(f *testing.F) {
	l := newLab(f)
	f.Add(trustpoint(f, RevocationNone, l.root.Cert, l.inter.Cert).CertReq())
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, err := ParseCertReq(data)
		if err != nil {
			return
		}
		var back []byte
		for _, h := range hs {
			back = append(back, h[:]...)
		}
		if string(back) != string(data) {
			t.Fatalf("round trip %x -> %x", data, back)
		}
	})
}

// FuzzParseCRL checks the CRL parser and loader on arbitrary input.
func FuzzParseCRL(f *testing.F) {
	l := newLab(f)
	f.Add(must(l.root.CRL(Revocations(t0, l.leaf), 1, t0, t0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		tp := trustpoint(t, RevocationCRL, l.root.Cert)
		crl, err := tp.LoadCRL(data)
		if err != nil {
			return
		}
		if crl.CheckSignatureFrom(l.root.Cert) != nil || len(tp.CRLs()) != 1 {
			t.Fatalf("installed a CRL the root did not sign")
		}
	})
}

// FuzzParseDN checks that any DN ParseDN accepts encodes and renders back
// to the same attributes (modulo spacing and attribute-name case).
func FuzzParseDN(f *testing.F) {
	for _, s := range []string{"cn=R3-spoke.example,OU=FLEX,O=esphub", "hostname=responder", "e=ops@example.net,c=US", "cn = a , o = b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseDN(s)
		if err != nil {
			return
		}
		der, err := asn1Marshal(n.ToRDNSequence())
		if err != nil {
			return // e.g. a country that is not PrintableString
		}
		back, err := FormatRawDN(der)
		if err != nil {
			t.Fatalf("%q encodes to a DN that does not parse: %v", s, err)
		}
		n2, err := ParseDN(back)
		if err != nil {
			t.Fatalf("rendering %q of %q does not parse: %v", back, s, err)
		}
		der2, _ := asn1Marshal(n2.ToRDNSequence())
		if string(der) != string(der2) {
			t.Fatalf("%q -> %q changes the encoding", s, back)
		}
	})
}

// FuzzParseFiles feeds arbitrary file contents to the PEM/DER loaders.
func FuzzParseFiles(f *testing.F) {
	l := newLab(f)
	f.Add(EncodeCertificatePEM(l.leaf))
	f.Add(l.leaf.Raw)
	key, _ := EncodePrivateKeyPEM(l.leafKey)
	f.Add(key)
	f.Fuzz(func(t *testing.T, data []byte) {
		if certs, err := ParseCertificates(data); err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		} else if err != nil && ReasonOf(err) != ReasonMalformed {
			t.Fatalf("reason %v", ReasonOf(err))
		}
		if k, err := ParsePrivateKey(data); err == nil && k == nil {
			t.Fatal("nil key without error")
		}
		_, _ = ParseCRL(data)
	})
}
