package pki

import "testing"

// BenchmarkVerifyChain measures validating a peer's chain (leaf and one
// intermediate, ECDSA) with a loaded CRL: the trust cost of one IKE_AUTH.
func BenchmarkVerifyChain(b *testing.B) {
	l := newLab(b)
	tp := trustpoint(b, RevocationCRL, l.root.Cert, l.inter.Cert)
	for _, ca := range []*CA{l.root, l.inter} {
		if _, err := tp.LoadCRL(must(ca.CRL(nil, 1, t0.Add(-1), t0.Add(1e12)))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Verify(l.viaInter.Raw, [][]byte{l.inter.Cert.Raw}); err != nil {
			b.Fatal(err)
		}
	}
}
