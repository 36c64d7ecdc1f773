package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/netip"
	"strings"

	"github.com/esphub/esphub/ike/wire"
)

// CheckIdentity verifies that the peer's IKE identity (ID payload type and
// data) is bound to its certificate, as RFC 4945 §3 asks:
// ID_DER_ASN1_DN must equal the certificate's subject (byte for byte, or
// the same attributes and values ignoring string types and letter case);
// ID_FQDN, ID_RFC822_ADDR and ID_IPV4/IPV6_ADDR must appear in the
// subjectAltName. Other types cannot be bound and are refused. Failures
// are ReasonIdentityMismatch *Errors.
func CheckIdentity(cert *x509.Certificate, t wire.IDType, data []byte) error {
	subj := SubjectDN(cert)
	mismatch := func(format string, args ...any) error {
		return fail(ReasonIdentityMismatch, subj, fmt.Errorf(format, args...))
	}
	switch t {
	case wire.IDDERASN1DN:
		if bytes.Equal(data, cert.RawSubject) {
			return nil
		}
		if sameDN(data, cert.RawSubject) {
			return nil
		}
		s, err := FormatRawDN(data)
		if err != nil {
			return mismatch("ID_DER_ASN1_DN is not a DER name")
		}
		return mismatch("identity %q is not the subject", s)
	case wire.IDFQDN:
		name := strings.TrimSuffix(string(data), ".")
		for _, d := range cert.DNSNames {
			if strings.EqualFold(strings.TrimSuffix(d, "."), name) {
				return nil
			}
		}
		return mismatch("FQDN %q is not a subjectAltName dNSName", printable(data))
	case wire.IDRFC822:
		for _, e := range cert.EmailAddresses {
			if strings.EqualFold(e, string(data)) {
				return nil
			}
		}
		return mismatch("RFC822 %q is not a subjectAltName rfc822Name", printable(data))
	case wire.IDIPv4Addr, wire.IDIPv6Addr:
		want := 4
		if t == wire.IDIPv6Addr {
			want = 16
		}
		a, ok := netip.AddrFromSlice(data)
		if !ok || len(data) != want {
			return mismatch("ID type %d with %d bytes", t, len(data))
		}
		for _, ip := range cert.IPAddresses {
			if b, ok := netip.AddrFromSlice(ip); ok && b.Unmap() == a.Unmap() {
				return nil
			}
		}
		return mismatch("address %s is not a subjectAltName iPAddress", a)
	}
	return mismatch("ID type %d cannot be bound to a certificate", t)
}

// printable quotes at most 64 bytes of wire data for an error message.
func printable(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// sameDN compares two DER names attribute by attribute, ignoring the
// string type (PrintableString versus UTF8String) and letter case, the
// way peers that re-encode their configured DN differ from the
// certificate.
func sameDN(a, b []byte) bool {
	var ra, rb pkix.RDNSequence
	if rest, err := asn1.Unmarshal(a, &ra); err != nil || len(rest) != 0 {
		return false
	}
	if rest, err := asn1.Unmarshal(b, &rb); err != nil || len(rest) != 0 {
		return false
	}
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if len(ra[i]) != len(rb[i]) {
			return false
		}
		for j := range ra[i] {
			x, y := ra[i][j], rb[i][j]
			if !x.Type.Equal(y.Type) {
				return false
			}
			xs, ok1 := x.Value.(string)
			ys, ok2 := y.Value.(string)
			if !ok1 || !ok2 || !strings.EqualFold(strings.TrimSpace(xs), strings.TrimSpace(ys)) {
				return false
			}
		}
	}
	return true
}

// LocalIdentityDN is `identity local dn`: the ID payload type and data
// that present our certificate's subject (ID_DER_ASN1_DN, the DER bytes
// of the subject). The data aliases cert.RawSubject.
func LocalIdentityDN(cert *x509.Certificate) (wire.IDType, []byte) {
	return wire.IDDERASN1DN, cert.RawSubject
}
