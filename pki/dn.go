package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"

	"github.com/esphub/esphub/config"
)

// dnNames maps attribute types to the short lower-case names IOS prints in
// `show crypto pki certificates` and matches in certificate maps
// (`subject-name eq hostname = responder`, `subject-name co ou = flex`).
var dnNames = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{asn1.ObjectIdentifier{2, 5, 4, 3}, "cn"},
	{asn1.ObjectIdentifier{2, 5, 4, 11}, "ou"},
	{asn1.ObjectIdentifier{2, 5, 4, 10}, "o"},
	{asn1.ObjectIdentifier{2, 5, 4, 7}, "l"},
	{asn1.ObjectIdentifier{2, 5, 4, 8}, "st"},
	{asn1.ObjectIdentifier{2, 5, 4, 6}, "c"},
	{asn1.ObjectIdentifier{2, 5, 4, 9}, "street"},
	{asn1.ObjectIdentifier{2, 5, 4, 5}, "serialnumber"},
	{asn1.ObjectIdentifier{2, 5, 4, 12}, "t"},
	{asn1.ObjectIdentifier{2, 5, 4, 4}, "sn"},
	{asn1.ObjectIdentifier{2, 5, 4, 42}, "gn"},
	{asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, "dc"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, "e"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 2}, "hostname"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 8}, "ipaddress"},
}

func attrName(oid asn1.ObjectIdentifier) string {
	for _, n := range dnNames {
		if n.oid.Equal(oid) {
			return n.name
		}
	}
	return oid.String()
}

// FormatDN renders a distinguished name as IOS does:
// "cn=spoke1.example,ou=flex,o=esphub", most specific attribute first (the
// reverse of the DER order, as in RFC 4514), lower-case attribute names,
// values verbatim without escaping. Multi-valued RDNs are joined with "+".
func FormatDN(n pkix.Name) string {
	var rdns pkix.RDNSequence
	// Names is flattened in DER order, one attribute per RDN; SubjectDN
	// and FormatRawDN keep multi-valued RDNs from the raw bytes.
	for _, a := range n.Names {
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{a})
	}
	return formatRDNs(rdns)
}

func formatRDNs(rdns pkix.RDNSequence) string {
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		for j, a := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(attrName(a.Type))
			b.WriteByte('=')
			fmt.Fprint(&b, a.Value)
		}
	}
	return b.String()
}

// FormatRawDN renders DER-encoded Name bytes (an ID_DER_ASN1_DN
// identity, a certificate's RawSubject) like FormatDN. It fails on bad DER.
func FormatRawDN(der []byte) (string, error) {
	var rdns pkix.RDNSequence
	rest, err := asn1.Unmarshal(der, &rdns)
	if err != nil || len(rest) != 0 {
		return "", fail(ReasonMalformed, "", fmt.Errorf("distinguished name is not DER"))
	}
	return formatRDNs(rdns), nil
}

// SubjectDN is cert's subject in IOS form; IssuerDN its issuer.
func SubjectDN(cert *x509.Certificate) string { return rawOrName(cert.RawSubject, cert.Subject) }

// IssuerDN is cert's issuer in IOS form.
func IssuerDN(cert *x509.Certificate) string { return rawOrName(cert.RawIssuer, cert.Issuer) }

func rawOrName(raw []byte, n pkix.Name) string {
	if s, err := FormatRawDN(raw); err == nil {
		return s
	}
	return FormatDN(n)
}

// MatchCertificateMap reports whether cert satisfies the certificate map
// (`match certificate NAME` in an IKEv2 profile). Subject and issuer are
// compared in IOS DN form with the rules of config.CertificateMap.Matches.
// A nil map matches nothing.
func MatchCertificateMap(m *config.CertificateMap, cert *x509.Certificate) bool {
	if m == nil || cert == nil {
		return false
	}
	return m.Matches(SubjectDN(cert), IssuerDN(cert))
}

// CheckCertificateMap is MatchCertificateMap as an error: a
// ReasonCertificateMapMismatch *Error naming the subject when no entry
// matches.
func CheckCertificateMap(m *config.CertificateMap, cert *x509.Certificate) error {
	if MatchCertificateMap(m, cert) {
		return nil
	}
	name := "<none>"
	if m != nil {
		name = m.Name
	}
	return fail(ReasonCertificateMapMismatch, SubjectDN(cert), fmt.Errorf("certificate map %s", name))
}

// ParseDN reads a DN written as in IOS configuration and show output,
// e.g. "cn=R3-spoke.example,OU=FLEX,O=esphub" (most specific first,
// attribute names in any case, spaces around "=" ignored). Values may not
// contain commas. The returned Name encodes in the reverse order, so that
// FormatDN gives back the same sequence.
func ParseDN(s string) (pkix.Name, error) {
	var n pkix.Name
	parts := strings.Split(s, ",")
	if strings.TrimSpace(s) == "" {
		return n, fmt.Errorf("parse dn: empty")
	}
	var attrs []pkix.AttributeTypeAndValue
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return n, fmt.Errorf("parse dn %q: %q is not attribute=value", s, strings.TrimSpace(p))
		}
		switch k {
		case "email", "emailaddress":
			k = "e"
		case "unstructuredname":
			k = "hostname"
		}
		var oid asn1.ObjectIdentifier
		for _, d := range dnNames {
			if d.name == k {
				oid = d.oid
			}
		}
		if oid == nil {
			return n, fmt.Errorf("parse dn %q: unknown attribute %q (cn, ou, o, l, st, c, e, hostname, dc, ...)", s, k)
		}
		attrs = append(attrs, pkix.AttributeTypeAndValue{Type: oid, Value: v})
	}
	for i := len(attrs) - 1; i >= 0; i-- {
		n.ExtraNames = append(n.ExtraNames, attrs[i])
	}
	for _, a := range attrs {
		if attrName(a.Type) == "cn" {
			n.CommonName = a.Value.(string)
		}
	}
	return n, nil
}
