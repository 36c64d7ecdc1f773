package wire

import (
	"encoding/binary"
	"net/netip"
)

// KE is the Key Exchange payload (RFC 7296 §3.4): the DH group and the
// sender's public value, which aliases the decoded buffer.
type KE struct {
	Group DHGroup
	Data  []byte
}

// Type implements Payload.
func (*KE) Type() PayloadType { return PayloadKE }

func decodeKE(b []byte, off int) (*KE, error) {
	if len(b) < 4 {
		return nil, syntaxErr(off, "truncated KE payload")
	}
	if len(b) == 4 {
		return nil, syntaxErr(off, "KE payload without key exchange data")
	}
	return &KE{Group: DHGroup(binary.BigEndian.Uint16(b)), Data: b[4:]}, nil
}

func (p *KE) appendBody(dst []byte) ([]byte, error) {
	if len(p.Data) == 0 {
		return dst, encodeErr("KE payload without data")
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(p.Group))
	return append(append(dst, 0, 0), p.Data...), nil
}

// Nonce length limits (RFC 7296 §3.9).
const (
	MinNonceLen = 16
	MaxNonceLen = 256
)

// Nonce is the Nonce payload (RFC 7296 §3.9). Data aliases the decoded buffer.
type Nonce struct {
	Data []byte
}

// Type implements Payload.
func (*Nonce) Type() PayloadType { return PayloadNonce }

func decodeNonce(b []byte, off int) (*Nonce, error) {
	if len(b) < MinNonceLen || len(b) > MaxNonceLen {
		return nil, syntaxErr(off, "nonce of %d bytes outside %d..%d", len(b), MinNonceLen, MaxNonceLen)
	}
	return &Nonce{Data: b}, nil
}

func (p *Nonce) appendBody(dst []byte) ([]byte, error) {
	if len(p.Data) < MinNonceLen || len(p.Data) > MaxNonceLen {
		return dst, encodeErr("nonce of %d bytes outside %d..%d", len(p.Data), MinNonceLen, MaxNonceLen)
	}
	return append(dst, p.Data...), nil
}

// ID is the Identification payload, IDi or IDr (RFC 7296 §3.5):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   ID Type     |                 RESERVED                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                   Identification Data                         ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Data aliases the decoded buffer.
type ID struct {
	Responder bool // IDr when true, IDi otherwise
	IDType    IDType
	Data      []byte
}

// Type implements Payload.
func (p *ID) Type() PayloadType {
	if p.Responder {
		return PayloadIDr
	}
	return PayloadIDi
}

// AppendBody appends the payload body (ID Type, RESERVED and the data): the
// "RestOfInitIDPayload" the AUTH computation runs the PRF over (RFC 7296 §2.15).
func (p *ID) AppendBody(dst []byte) []byte {
	return append(append(dst, byte(p.IDType), 0, 0, 0), p.Data...)
}

// Addr returns the address of an ID_IPV4_ADDR or ID_IPV6_ADDR identity.
func (p *ID) Addr() (netip.Addr, bool) {
	switch {
	case p.IDType == IDIPv4Addr && len(p.Data) == 4:
		return netip.AddrFrom4([4]byte(p.Data)), true
	case p.IDType == IDIPv6Addr && len(p.Data) == 16:
		return netip.AddrFrom16([16]byte(p.Data)), true
	}
	return netip.Addr{}, false
}

// AddrID returns an ID_IPV4_ADDR or ID_IPV6_ADDR identity for a (IPv4-mapped
// IPv6 addresses become ID_IPV4_ADDR).
func AddrID(a netip.Addr, responder bool) *ID {
	a = a.Unmap()
	if a.Is4() {
		v := a.As4()
		return &ID{Responder: responder, IDType: IDIPv4Addr, Data: v[:]}
	}
	v := a.As16()
	return &ID{Responder: responder, IDType: IDIPv6Addr, Data: v[:]}
}

func decodeID(t PayloadType, b []byte, off int) (*ID, error) {
	if len(b) < 4 {
		return nil, syntaxErr(off, "truncated %s payload", t)
	}
	p := &ID{Responder: t == PayloadIDr, IDType: IDType(b[0]), Data: b[4:]}
	if err := p.check(); err != nil {
		err.Offset += off
		return nil, err
	}
	return p, nil
}

func (p *ID) check() *Error {
	switch p.IDType {
	case IDIPv4Addr:
		if len(p.Data) != 4 {
			return syntaxErr(4, "ID_IPV4_ADDR of %d bytes", len(p.Data))
		}
	case IDIPv6Addr:
		if len(p.Data) != 16 {
			return syntaxErr(4, "ID_IPV6_ADDR of %d bytes", len(p.Data))
		}
	default:
		if len(p.Data) == 0 {
			return syntaxErr(4, "empty identity of type %s", p.IDType)
		}
	}
	return nil
}

func (p *ID) appendBody(dst []byte) ([]byte, error) {
	if err := p.check(); err != nil {
		return dst, encodeErr("%s", err.Reason)
	}
	return p.AppendBody(dst), nil
}

// Cert is the Certificate payload (RFC 7296 §3.6). Data aliases the decoded buffer.
type Cert struct {
	Encoding CertEncoding
	Data     []byte
}

// Type implements Payload.
func (*Cert) Type() PayloadType { return PayloadCERT }

func decodeCert(b []byte, off int) (*Cert, error) {
	if len(b) < 2 {
		return nil, syntaxErr(off, "CERT payload without data")
	}
	return &Cert{Encoding: CertEncoding(b[0]), Data: b[1:]}, nil
}

func (p *Cert) appendBody(dst []byte) ([]byte, error) {
	if len(p.Data) == 0 {
		return dst, encodeErr("CERT payload without data")
	}
	return append(append(dst, byte(p.Encoding)), p.Data...), nil
}

// CertReq is the Certificate Request payload (RFC 7296 §3.7). For X.509
// encodings Authorities is a concatenation of 20-byte SHA-1 hashes of trusted
// CAs' public keys (it may be empty); it aliases the decoded buffer.
type CertReq struct {
	Encoding    CertEncoding
	Authorities []byte
}

// Type implements Payload.
func (*CertReq) Type() PayloadType { return PayloadCERTREQ }

// AuthorityLen is the size of one certification authority hash in a CERTREQ.
const AuthorityLen = 20

// Authority returns the i-th CA hash, for i < NumAuthorities().
func (p *CertReq) Authority(i int) []byte {
	return p.Authorities[i*AuthorityLen : (i+1)*AuthorityLen]
}

// NumAuthorities returns the number of CA hashes.
func (p *CertReq) NumAuthorities() int { return len(p.Authorities) / AuthorityLen }

func decodeCertReq(b []byte, off int) (*CertReq, error) {
	if len(b) < 1 {
		return nil, syntaxErr(off, "empty CERTREQ payload")
	}
	p := &CertReq{Encoding: CertEncoding(b[0]), Authorities: sub(b, 1, len(b))}
	if p.Encoding == CertX509Signature && len(p.Authorities)%AuthorityLen != 0 {
		return nil, syntaxErr(off+1, "CERTREQ authorities of %d bytes, not a multiple of %d", len(p.Authorities), AuthorityLen)
	}
	return p, nil
}

func (p *CertReq) appendBody(dst []byte) ([]byte, error) {
	return append(append(dst, byte(p.Encoding)), p.Authorities...), nil
}

// Auth is the Authentication payload (RFC 7296 §3.8). Data aliases the decoded buffer.
type Auth struct {
	Method AuthMethod
	Data   []byte
}

// Type implements Payload.
func (*Auth) Type() PayloadType { return PayloadAUTH }

func decodeAuth(b []byte, off int) (*Auth, error) {
	if len(b) < 5 {
		return nil, syntaxErr(off, "AUTH payload without authentication data")
	}
	return &Auth{Method: AuthMethod(b[0]), Data: b[4:]}, nil
}

func (p *Auth) appendBody(dst []byte) ([]byte, error) {
	if len(p.Data) == 0 {
		return dst, encodeErr("AUTH payload without data")
	}
	return append(append(dst, byte(p.Method), 0, 0, 0), p.Data...), nil
}

// VendorID is the Vendor ID payload (RFC 7296 §3.12). Data aliases the decoded buffer.
type VendorID struct {
	Data []byte
}

// Type implements Payload.
func (*VendorID) Type() PayloadType { return PayloadVendorID }

func decodeVendorID(b []byte, off int) (*VendorID, error) {
	if len(b) == 0 {
		return nil, syntaxErr(off, "empty Vendor ID payload")
	}
	return &VendorID{Data: b}, nil
}

func (p *VendorID) appendBody(dst []byte) ([]byte, error) {
	if len(p.Data) == 0 {
		return dst, encodeErr("empty Vendor ID payload")
	}
	return append(dst, p.Data...), nil
}

// EAP codes (RFC 3748 §4, RFC 6696 §5.3 for Initiate and Finish).
const (
	EAPRequest  = 1
	EAPResponse = 2
	EAPSuccess  = 3
	EAPFailure  = 4
	EAPInitiate = 5
	EAPFinish   = 6
)

// EAP is the Extensible Authentication payload (RFC 7296 §3.16): one EAP
// message, whose own Length must match the payload. Message aliases the
// decoded buffer.
type EAP struct {
	Message []byte
}

// Type implements Payload.
func (*EAP) Type() PayloadType { return PayloadEAP }

// Code returns the EAP code.
func (p *EAP) Code() uint8 { return p.Message[0] }

// Identifier returns the EAP identifier.
func (p *EAP) Identifier() uint8 { return p.Message[1] }

// MethodType returns the EAP method type of a Request or Response (0 for Success/Failure).
func (p *EAP) MethodType() uint8 {
	if len(p.Message) < 5 {
		return 0
	}
	return p.Message[4]
}

// MethodData returns the type-data after the method type of a Request or Response.
func (p *EAP) MethodData() []byte {
	if len(p.Message) < 5 {
		return nil
	}
	return p.Message[5:]
}

func checkEAP(b []byte) *Error {
	if len(b) < 4 {
		return syntaxErr(0, "EAP message shorter than 4 bytes")
	}
	if int(binary.BigEndian.Uint16(b[2:])) != len(b) {
		return syntaxErr(2, "EAP length %d but payload holds %d bytes", binary.BigEndian.Uint16(b[2:]), len(b))
	}
	switch b[0] {
	case EAPRequest, EAPResponse, EAPInitiate, EAPFinish:
		if len(b) < 5 {
			return syntaxErr(0, "EAP request/response without a type")
		}
	case EAPSuccess, EAPFailure:
		if len(b) != 4 {
			return syntaxErr(0, "EAP success/failure with data")
		}
	default:
		return syntaxErr(0, "EAP code %d", b[0])
	}
	return nil
}

func decodeEAP(b []byte, off int) (*EAP, error) {
	if err := checkEAP(b); err != nil {
		err.Offset += off
		return nil, err
	}
	return &EAP{Message: b}, nil
}

func (p *EAP) appendBody(dst []byte) ([]byte, error) {
	if err := checkEAP(p.Message); err != nil {
		return dst, encodeErr("%s", err.Reason)
	}
	return append(dst, p.Message...), nil
}
