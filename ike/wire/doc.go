// Package wire encodes and decodes IKEv2 messages (RFC 7296) and the payloads
// of the extensions esphub implements (RFC 7383 fragments, RFC 5685 redirect,
// RFC 8598 configuration attributes). It depends on the standard library only.
//
// Decoding is strict and never panics: Decode checks the header, every
// payload length, the substructures of SA, TS, CP, Delete and the other
// payloads, and that an SK or SKF payload is last; DecodeHeader alone is the
// cheap, allocation-free step for demultiplexing a datagram by SPI. Errors are
// *Error values that carry the notify type to answer with (INVALID_SYNTAX,
// UNSUPPORTED_CRITICAL_PAYLOAD with the payload type, INVALID_MAJOR_VERSION);
// NotifyFor extracts it. Validate and ValidateInner add the per-exchange
// rules a codec can know (which payloads an exchange must, may and must not
// carry, and how often).
//
// Decoded payloads alias the decoded buffer (zero copy): keep the buffer
// unchanged while using them and copy what must outlive it. Reserved fields
// and unknown header flags are ignored on receipt and written as zero, as RFC
// 7296 requires, so Encode(Decode(b)) == b for every message whose reserved
// bits are zero (every real one we have seen) and is otherwise the same
// length and a fixed point.
//
// Encrypted payloads are opaque to the decoder: an *Encrypted or
// *EncryptedFragment exposes the authenticated bytes (AAD: IKE header through
// the SK/SKF header) and the body (IV | ciphertext | ICV). The engine opens
// the body with an ike/suite SKCipher and decodes the plaintext with
// DecodePayloads(sk.NextPayload, plaintext), or calls Open. AppendProtected
// and AppendFragments build protected messages; Reassembler puts RFC 7383
// fragments back together.
//
// Helpers cover the notify data the engine acts on (NAT detection, COOKIE,
// INVALID_KE_PAYLOAD, SET_WINDOW_SIZE, REKEY_SA, REDIRECT), the Cisco FlexVPN
// vendor IDs, configuration payload addresses and routes, and traffic
// selector arithmetic on net/netip types (Narrow, Intersect, AppendPrefixes).
// Walk and PeekNotify look at a chain without allocating (the COOKIE check
// under an IKE_SA_INIT flood); ClonePayloads detaches payloads from their
// datagram; Message.String and AppendDebug print messages the way strongSwan
// and IOS ("debug crypto ikev2 packet") do.
package wire
