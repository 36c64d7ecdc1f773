package wire

import "fmt"

// Exchange-level payload rules (RFC 7296 §1.2-§1.5, §2.6, §3): what a codec
// can check without knowing SA state. The engine still decides whether the
// content is acceptable.

// counts holds how many payloads of each type a chain has.
type counts [256]uint8

func countPayloads(ps []Payload) (c counts, errNotify bool) {
	for _, p := range ps {
		if c[p.Type()] < 255 {
			c[p.Type()]++
		}
		if n, ok := p.(*Notify); ok && n.NotifyType.IsError() {
			errNotify = true
		}
	}
	return c, errNotify
}

func invalid(format string, args ...any) *Error {
	return &Error{Notify: NotifyInvalidSyntax, Offset: -1, Reason: fmt.Sprintf(format, args...)}
}

// singletons are payloads a message carries at most once.
var singletons = []PayloadType{PayloadSA, PayloadKE, PayloadNonce, PayloadIDi, PayloadIDr, PayloadAUTH, PayloadTSi, PayloadTSr, PayloadCP}

// checkSA applies the SA payload rules of RFC 7296 §3.3 that depend on the
// direction: a request numbers its proposals from 1; a response carries
// exactly one proposal with at most one transform of each type.
func checkSA(ps []Payload, response bool) *Error {
	sa := First[*SA](ps)
	if sa == nil || len(sa.Proposals) == 0 {
		return nil
	}
	if !response {
		if sa.Proposals[0].Number != 1 {
			return invalid("first proposal numbered %d, want 1", sa.Proposals[0].Number)
		}
		return nil
	}
	if len(sa.Proposals) != 1 {
		return invalid("response SA with %d proposals", len(sa.Proposals))
	}
	var seen [256]bool
	for _, t := range sa.Proposals[0].Transforms {
		if seen[t.Type] {
			return invalid("response proposal with two %s transforms", t.Type)
		}
		seen[t.Type] = true
	}
	return nil
}

func checkSingletons(c *counts) *Error {
	for _, t := range singletons {
		if c[t] > 1 {
			return invalid("%d %s payloads", c[t], t)
		}
	}
	return nil
}

// Validate checks the outer payloads of a decoded message against the rules
// of its exchange: IKE_SA_INIT carries no encrypted payload and, unless it is
// an error or COOKIE exchange, exactly one SA, KE and Nonce; every other
// exchange is protected by one SK or SKF payload. Errors are *Error with
// INVALID_SYNTAX. Validate does not look inside the SK payload; see
// ValidateInner.
func Validate(m *Message) error {
	c, errNotify := countPayloads(m.Payloads)
	if err := checkSingletons(&c); err != nil {
		return err
	}
	h := &m.Header
	if err := checkSA(m.Payloads, h.IsResponse()); err != nil {
		return err
	}
	switch h.Exchange {
	case ExchangeIKESAInit:
		if h.MessageID != 0 {
			return invalid("IKE_SA_INIT with message ID %d", h.MessageID)
		}
		if c[PayloadSK]+c[PayloadSKF] > 0 {
			return invalid("encrypted payload in IKE_SA_INIT")
		}
		for _, t := range []PayloadType{PayloadIDi, PayloadIDr, PayloadAUTH, PayloadTSi, PayloadTSr, PayloadCP, PayloadEAP, PayloadDelete, PayloadCERT} {
			if c[t] > 0 {
				return invalid("%s payload in IKE_SA_INIT", t)
			}
		}
		if !h.IsResponse() && h.SPIr != 0 {
			return invalid("IKE_SA_INIT request with a responder SPI")
		}
		if h.IsResponse() == h.IsInitiator() {
			// Only the original initiator sends IKE_SA_INIT requests and
			// only the responder answers them (RFC 7296 §3.1 I flag).
			return invalid("IKE_SA_INIT with flags %#x", h.Flags)
		}
		if h.IsResponse() && (errNotify || (FindNotify(m.Payloads, NotifyCookie) != nil && c[PayloadSA] == 0)) {
			return nil
		}
		if c[PayloadSA] != 1 || c[PayloadKE] != 1 || c[PayloadNonce] != 1 {
			return invalid("IKE_SA_INIT without SA, KE and Nonce")
		}
		if ck := FindNotify(m.Payloads, NotifyCookie); ck != nil && !h.IsResponse() && m.Payloads[0] != Payload(ck) {
			return invalid("COOKIE notify not first in IKE_SA_INIT request")
		}
		return nil
	case ExchangeIKEAuth, ExchangeCreateChildSA, ExchangeInformational, ExchangeIKEIntermediate:
		if c[PayloadSK]+c[PayloadSKF] != 1 {
			return invalid("%s without an encrypted payload", h.Exchange)
		}
		if h.Exchange == ExchangeIKEAuth && h.MessageID == 0 {
			return invalid("IKE_AUTH with message ID 0")
		}
		return nil
	}
	// Unknown exchange types are the engine's to answer; the codec has no rules for them.
	return nil
}

// ValidateInner checks the decrypted payloads of a message of exchange ex
// (response tells request from response) against the exchange's rules.
// Errors are *Error with INVALID_SYNTAX. A response that carries an error
// Notify is only checked for duplicates: it may lack everything else.
func ValidateInner(ex ExchangeType, response bool, ps []Payload) error {
	c, errNotify := countPayloads(ps)
	if err := checkSingletons(&c); err != nil {
		return err
	}
	if c[PayloadSK]+c[PayloadSKF] > 0 {
		return invalid("nested encrypted payload")
	}
	if (c[PayloadTSi] == 0) != (c[PayloadTSr] == 0) {
		return invalid("TSi without TSr or the reverse")
	}
	if err := checkSA(ps, response); err != nil {
		return err
	}
	if response && errNotify {
		return nil
	}
	switch ex {
	case ExchangeIKEAuth:
		if c[PayloadSA] > 0 && c[PayloadTSi] == 0 {
			return invalid("IKE_AUTH with SA but no traffic selectors")
		}
		for _, t := range []PayloadType{PayloadKE, PayloadNonce} {
			if c[t] > 0 {
				return invalid("%s payload in IKE_AUTH", t)
			}
		}
		if !response && c[PayloadIDi] == 0 && c[PayloadEAP] == 0 && c[PayloadAUTH] == 0 {
			// Every IKE_AUTH request carries IDi, except the later rounds
			// of EAP, which carry EAP or the final AUTH.
			return invalid("IKE_AUTH request without IDi, EAP or AUTH")
		}
		if response && c[PayloadIDi] > 0 {
			return invalid("IKE_AUTH response with IDi")
		}
		if !response && c[PayloadIDr] > 0 && c[PayloadIDi] == 0 {
			return invalid("IDr without IDi")
		}
	case ExchangeCreateChildSA:
		if c[PayloadSA] != 1 || c[PayloadNonce] != 1 {
			return invalid("CREATE_CHILD_SA without SA and Nonce")
		}
		for _, t := range []PayloadType{PayloadIDi, PayloadIDr, PayloadAUTH, PayloadEAP} {
			if c[t] > 0 {
				return invalid("%s payload in CREATE_CHILD_SA", t)
			}
		}
		if c[PayloadTSi] == 0 && c[PayloadKE] == 0 {
			// No traffic selectors means an IKE SA rekey, which needs a KE.
			return invalid("CREATE_CHILD_SA IKE rekey without KE")
		}
	case ExchangeInformational:
		for _, t := range []PayloadType{PayloadSA, PayloadKE, PayloadNonce, PayloadIDi, PayloadIDr, PayloadAUTH, PayloadTSi, PayloadTSr, PayloadEAP} {
			if c[t] > 0 {
				return invalid("%s payload in INFORMATIONAL", t)
			}
		}
	}
	return nil
}
