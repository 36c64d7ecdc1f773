package pki

import (
	"errors"
	"fmt"
)

// Reason classifies why a certificate was refused. Its String is a stable
// label for counters and JSON (e.g. pki_rejected_total{reason="expired"}).
type Reason uint8

// Reasons a certificate or identity is refused.
const (
	ReasonMalformed              Reason = iota + 1 // not parseable DER/PEM
	ReasonBadSignature                             // a signature in the chain (or on a CRL) does not verify
	ReasonExpired                                  // some certificate is past NotAfter
	ReasonNotYetValid                              // some certificate is before NotBefore
	ReasonUnknownCA                                // no path to a CA of the trustpoint
	ReasonRevoked                                  // a CRL lists a certificate of the chain
	ReasonRevocationUnavailable                    // `revocation-check crl` without a current CRL
	ReasonIdentityMismatch                         // the IKE identity is not in the certificate
	ReasonChainTooLong                             // more certificates than the trustpoint allows
	ReasonKeyUsage                                 // key usage or extended key usage unfit for IKE
	ReasonBadChain                                 // other path errors (CA flag, path length, name constraints)
	ReasonCertificateMapMismatch                   // no `crypto pki certificate map` entry matches
	ReasonAuthSignature                            // the AUTH payload's signature does not verify with the certificate's key
)

var reasonNames = [...]string{
	ReasonMalformed:              "malformed",
	ReasonBadSignature:           "bad_signature",
	ReasonExpired:                "expired",
	ReasonNotYetValid:            "not_yet_valid",
	ReasonUnknownCA:              "unknown_ca",
	ReasonRevoked:                "revoked",
	ReasonRevocationUnavailable:  "revocation_unavailable",
	ReasonIdentityMismatch:       "identity_mismatch",
	ReasonChainTooLong:           "chain_too_long",
	ReasonKeyUsage:               "key_usage",
	ReasonBadChain:               "bad_chain",
	ReasonCertificateMapMismatch: "certificate_map_mismatch",
	ReasonAuthSignature:          "auth_signature",
}

// Reasons lists every Reason, for pre-registering counters.
func Reasons() []Reason {
	out := make([]Reason, 0, len(reasonNames)-1)
	for r := ReasonMalformed; int(r) < len(reasonNames); r++ {
		out = append(out, r)
	}
	return out
}

// String returns the counter label.
func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason_%d", uint8(r))
}

// Error is a refused certificate: the reason, the subject of the
// certificate at fault (IOS DN form, may be empty) and the underlying
// error, if any. errors.Is(err, pki.ErrExpired) matches on Reason alone.
type Error struct {
	Reason  Reason
	Subject string
	Err     error
}

func (e *Error) Error() string {
	s := "certificate " + reasonText(e.Reason)
	if e.Subject != "" {
		s += " (" + e.Subject + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func reasonText(r Reason) string {
	switch r {
	case ReasonMalformed:
		return "is malformed"
	case ReasonBadSignature:
		return "has a bad signature"
	case ReasonExpired:
		return "has expired"
	case ReasonNotYetValid:
		return "is not yet valid"
	case ReasonUnknownCA:
		return "is not issued by a trusted CA"
	case ReasonRevoked:
		return "is revoked"
	case ReasonRevocationUnavailable:
		return "revocation status is unknown (no current CRL; load one or use revocation-check crl none)"
	case ReasonIdentityMismatch:
		return "does not match the IKE identity"
	case ReasonChainTooLong:
		return "chain is too long"
	case ReasonKeyUsage:
		return "key usage does not allow IKE authentication"
	case ReasonBadChain:
		return "chain is invalid"
	case ReasonCertificateMapMismatch:
		return "matches no certificate map"
	case ReasonAuthSignature:
		return "key did not make the AUTH signature"
	}
	return r.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of the same Reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Subject == "" && t.Err == nil && t.Reason == e.Reason
}

// Sentinels for errors.Is, one per Reason.
var (
	ErrMalformed              = &Error{Reason: ReasonMalformed}
	ErrBadSignature           = &Error{Reason: ReasonBadSignature}
	ErrExpired                = &Error{Reason: ReasonExpired}
	ErrNotYetValid            = &Error{Reason: ReasonNotYetValid}
	ErrUnknownCA              = &Error{Reason: ReasonUnknownCA}
	ErrRevoked                = &Error{Reason: ReasonRevoked}
	ErrRevocationUnavailable  = &Error{Reason: ReasonRevocationUnavailable}
	ErrIdentityMismatch       = &Error{Reason: ReasonIdentityMismatch}
	ErrChainTooLong           = &Error{Reason: ReasonChainTooLong}
	ErrKeyUsage               = &Error{Reason: ReasonKeyUsage}
	ErrBadChain               = &Error{Reason: ReasonBadChain}
	ErrCertificateMapMismatch = &Error{Reason: ReasonCertificateMapMismatch}
	ErrAuthSignature          = &Error{Reason: ReasonAuthSignature}
)

// ReasonOf returns the Reason of the first *Error in err's chain, or 0.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

func fail(r Reason, subject string, err error) *Error {
	return &Error{Reason: r, Subject: subject, Err: err}
}
