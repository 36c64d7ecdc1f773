package ike

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/esphub/esphub/ike/wire"
)

// Identity is an IKEv2 identification (RFC 7296 §3.5): the ID type and the
// identification data exactly as carried in an IDi or IDr payload.
//
// Data is owned by the Identity; constructors copy their input.
type Identity struct {
	Type wire.IDType
	Data []byte
}

// IdentityAddr returns an ID_IPV4_ADDR or ID_IPV6_ADDR identity.
func IdentityAddr(a netip.Addr) Identity {
	if a.Is4() || a.Is4In6() {
		b := a.Unmap().As4()
		return Identity{Type: wire.IDIPv4Addr, Data: b[:]}
	}
	b := a.As16()
	return Identity{Type: wire.IDIPv6Addr, Data: b[:]}
}

// IdentityFQDN returns an ID_FQDN identity.
func IdentityFQDN(name string) Identity {
	return Identity{Type: wire.IDFQDN, Data: []byte(name)}
}

// IdentityEmail returns an ID_RFC822_ADDR identity.
func IdentityEmail(addr string) Identity {
	return Identity{Type: wire.IDRFC822, Data: []byte(addr)}
}

// IdentityKeyID returns an ID_KEY_ID identity (opaque octets).
func IdentityKeyID(id []byte) Identity {
	return Identity{Type: wire.IDKeyID, Data: bytes.Clone(id)}
}

// IdentityDN returns an ID_DER_ASN1_DN identity from a distinguished name
// such as "CN=spoke1,O=Example". Attribute types known to crypto/x509/pkix
// (CN, O, OU, C, L, ST, STREET, POSTALCODE, SERIALNUMBER) are accepted.
func IdentityDN(dn string) (Identity, error) {
	var name pkix.Name
	for _, part := range splitDN(dn) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return Identity{}, fmt.Errorf("parse dn %q: %q has no '='", dn, part)
		}
		k, v = strings.ToUpper(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "CN":
			name.CommonName = v
		case "O":
			name.Organization = append(name.Organization, v)
		case "OU":
			name.OrganizationalUnit = append(name.OrganizationalUnit, v)
		case "C":
			name.Country = append(name.Country, v)
		case "L":
			name.Locality = append(name.Locality, v)
		case "ST":
			name.Province = append(name.Province, v)
		case "STREET":
			name.StreetAddress = append(name.StreetAddress, v)
		case "POSTALCODE":
			name.PostalCode = append(name.PostalCode, v)
		case "SERIALNUMBER":
			name.SerialNumber = v
		default:
			return Identity{}, fmt.Errorf("parse dn %q: unknown attribute %q", dn, k)
		}
	}
	der, err := asn1.Marshal(name.ToRDNSequence())
	if err != nil {
		return Identity{}, fmt.Errorf("encode dn %q: %w", dn, err)
	}
	return Identity{Type: wire.IDDERASN1DN, Data: der}, nil
}

func splitDN(dn string) []string {
	var parts []string
	for _, p := range strings.Split(dn, ",") {
		if strings.TrimSpace(p) != "" {
			parts = append(parts, p)
		}
	}
	return parts
}

// Equal reports whether two identities have the same type and data.
func (id Identity) Equal(o Identity) bool {
	return id.Type == o.Type && bytes.Equal(id.Data, o.Data)
}

// IsZero reports whether id is unset.
func (id Identity) IsZero() bool { return id.Type == 0 && len(id.Data) == 0 }

// String renders id the way IOS show commands do: addresses and names as
// text, DNs in RFC 4514 form, key IDs in hex.
func (id Identity) String() string {
	switch id.Type {
	case wire.IDIPv4Addr, wire.IDIPv6Addr:
		if a, ok := netip.AddrFromSlice(id.Data); ok {
			return a.String()
		}
	case wire.IDFQDN, wire.IDRFC822:
		return string(id.Data)
	case wire.IDDERASN1DN:
		var rdn pkix.RDNSequence
		if rest, err := asn1.Unmarshal(id.Data, &rdn); err == nil && len(rest) == 0 {
			var n pkix.Name
			n.FillFromRDNSequence(&rdn)
			return n.String()
		}
	case wire.IDKeyID:
		return hex.EncodeToString(id.Data)
	}
	return fmt.Sprintf("id-type-%d:%x", id.Type, id.Data)
}

// validate checks the data against the type, as received from the wire.
func (id Identity) validate() error {
	switch id.Type {
	case wire.IDIPv4Addr:
		if len(id.Data) != 4 {
			return fmt.Errorf("ID_IPV4_ADDR of %d bytes", len(id.Data))
		}
	case wire.IDIPv6Addr:
		if len(id.Data) != 16 {
			return fmt.Errorf("ID_IPV6_ADDR of %d bytes", len(id.Data))
		}
	case wire.IDFQDN, wire.IDRFC822, wire.IDKeyID, wire.IDDERASN1DN, wire.IDDERASN1GN:
		if len(id.Data) == 0 {
			return fmt.Errorf("empty identity of type %d", id.Type)
		}
	default:
		return fmt.Errorf("unsupported ID type %d", id.Type)
	}
	return nil
}
