package main

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// swanAuth is one AUTH payload strongSwan built, read back from its log
// (ike = 3 logs the signed octets, enc = 4 every generated payload rule).
type swanAuth struct {
	Octets []byte
	Method uint8
	Data   []byte
}

// hexAfter reads n bytes of charon's hex dump starting at lines[i].
func hexAfter(lines []string, i, n int) ([]byte, error) {
	var out []byte
	for ; i < len(lines) && len(out) < n; i++ {
		_, rest, ok := strings.Cut(lines[i], "]")
		if !ok {
			return nil, fmt.Errorf("line %d is not a log line", i)
		}
		off, dump, ok := strings.Cut(strings.TrimSpace(rest), ": ")
		if _, err := strconv.Atoi(off); !ok || err != nil {
			return nil, fmt.Errorf("line %d is not a hex dump line: %q", i, lines[i])
		}
		if len(dump) > 48 {
			dump = dump[:48]
		}
		for _, tok := range strings.Fields(dump) {
			b, err := hex.DecodeString(tok)
			if err != nil || len(b) != 1 {
				return nil, fmt.Errorf("line %d: bad hex %q", i, tok)
			}
			if len(out) < n {
				out = append(out, b[0])
			}
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("hex dump ended after %d of %d bytes", len(out), n)
	}
	return out, nil
}

// bytesCount parses "... => N bytes @ 0x..." at the end of a line.
func bytesCount(line string) (int, bool) {
	_, rest, ok := strings.Cut(line, "=> ")
	if !ok {
		return 0, false
	}
	f := strings.Fields(rest)
	if len(f) < 2 || f[1] != "bytes" {
		return 0, false
	}
	n, err := strconv.Atoi(f[0])
	return n, err == nil
}

// ownAuth extracts the first AUTH payload the instance generated, with
// the octets it signed.
func ownAuth(log string) (swanAuth, error) {
	lines := strings.Split(log, "\n")
	var a swanAuth
	octetsAt := -1
	for i, l := range lines {
		if strings.Contains(l, "octets = message + nonce + prf(Sk_px, IDx')") {
			octetsAt = i
			n, ok := bytesCount(l)
			if !ok {
				return a, fmt.Errorf("octets line %q", l)
			}
			var err error
			if a.Octets, err = hexAfter(lines, i+1, n); err != nil {
				return a, fmt.Errorf("octets: %w", err)
			}
			break
		}
	}
	if octetsAt < 0 {
		return a, fmt.Errorf("no signed octets in the log (ike log level below 3?)")
	}
	var err error
	a.Method, a.Data, err = generated(lines, octetsAt, "AUTH")
	return a, err
}

// generated reads the first payload of the given type the instance
// generated after lines[from]: its first one-byte field after the generic
// header (rule 10: AUTH method, ID type) and its data (the CHUNK_DATA rule).
func generated(lines []string, from int, payload string) (uint8, []byte, error) {
	start := -1
	for i := from; i < len(lines); i++ {
		if strings.Contains(lines[i], "generating payload of type "+payload) {
			start = i
			break
		}
	}
	if start < 0 {
		return 0, nil, fmt.Errorf("no generated %s payload in the log (enc log level below 4?)", payload)
	}
	var first uint8
	for i := start; i+1 < len(lines); i++ {
		switch {
		case strings.Contains(lines[i], "generating "+payload+" payload finished"):
			return 0, nil, fmt.Errorf("%s payload without data", payload)
		case strings.Contains(lines[i], "generating rule 10 U_INT_8"):
			_, v, _ := strings.Cut(lines[i+1], "=> ")
			m, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || m > 255 {
				return 0, nil, fmt.Errorf("%s rule 10 line %q", payload, lines[i+1])
			}
			first = uint8(m)
		case strings.Contains(lines[i], "CHUNK_DATA"):
			n, ok := bytesCount(lines[i+1])
			if !ok {
				return 0, nil, fmt.Errorf("%s data line %q", payload, lines[i+1])
			}
			d, err := hexAfter(lines, i+2, n)
			return first, d, err
		}
	}
	return 0, nil, fmt.Errorf("%s payload without data", payload)
}

// ownID extracts the first ID_INITIATOR payload the instance generated.
func ownID(log string) (uint8, []byte, error) {
	return generated(strings.Split(log, "\n"), 0, "ID_INITIATOR")
}

// receivedCertReq extracts the Certification Authority data of the first
// CERTREQ payload the instance parsed.
func receivedCertReq(log string) ([]byte, error) {
	lines := strings.Split(log, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "parsing CERTREQ payload,") {
			continue
		}
		for j := i; j+1 < len(lines); j++ {
			if strings.Contains(lines[j], "parsing CERTREQ payload finished") {
				break
			}
			if strings.Contains(lines[j], "parsing rule 11 CHUNK_DATA") {
				n, ok := bytesCount(lines[j+1])
				if !ok {
					return nil, fmt.Errorf("certreq data line %q", lines[j+1])
				}
				return hexAfter(lines, j+2, n)
			}
		}
	}
	return nil, fmt.Errorf("no parsed CERTREQ payload in the log (enc log level below 4?)")
}
