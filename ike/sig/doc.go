// Package sig computes and verifies the AUTH payload data of IKEv2's
// signature authentication methods.
//
// It covers RFC 7427 Digital Signature (method 14), whose AUTH data is
//
//	+-----------+------------------------------+------------------+
//	| ASN.1 len | AlgorithmIdentifier (DER)    | Signature Value  |
//	+-----------+------------------------------+------------------+
//
// for RSA PKCS#1 v1.5 and RSASSA-PSS with SHA-256/384/512 and ECDSA (DER
// Ecdsa-Sig-Value) with SHA-256/384/512, and the classic methods of RFC 7296
// and RFC 4754: RSA Digital Signature (1, PKCS#1 v1.5 over SHA-1) and ECDSA
// with SHA-256 on P-256 (9), SHA-384 on P-384 (10) and SHA-512 on P-521
// (11), whose signature is the fixed-length r||s.
//
// The input is always the signed octets of RFC 7296 §2.15, which the engine
// builds with suite.SignedOctets. Signing and verification are control-path
// operations: they allocate and they are safe for concurrent use (nothing is
// shared between calls).
//
// The package also encodes and decodes the data of the RFC 7427
// SIGNATURE_HASH_ALGORITHMS notify and picks a hash from a peer's list.
package sig
