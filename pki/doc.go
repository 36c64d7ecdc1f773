// Package pki is esphub's certificate layer for IKEv2 authentication: a
// trustpoint (IOS `crypto pki trustpoint`) holding trusted CA certificates
// and CRLs, validation of a peer's certificate chain from CERT payloads,
// CERTREQ data, our own credential (certificate chain and private key),
// certificate maps, the binding between an IKE identity and a certificate,
// revocation of established peers, and the small CA used by
// `esphubctl pki` for labs and tests.
//
// Every validation failure is an *Error carrying a Reason whose String is
// a stable, counter-friendly label ("expired", "revoked", ...), so the
// engine can count failures by reason and log one line per failed
// negotiation. Nothing here logs, and no function returns or prints
// private key material.
//
// Signatures over the IKE AUTH payload live in package ike/sig; this
// package decides whether the key that signed is one we trust.
package pki
