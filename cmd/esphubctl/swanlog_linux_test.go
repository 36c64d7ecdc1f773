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
	start := -1
	for i := octetsAt; i < len(lines); i++ {
		if strings.Contains(lines[i], "generating payload of type AUTH") {
			start = i
			break
		}
	}
	if start < 0 {
		return a, fmt.Errorf("no generated AUTH payload in the log (enc log level below 4?)")
	}
	for i := start; i+1 < len(lines); i++ {
		switch {
		case strings.Contains(lines[i], "generating rule 10 U_INT_8"):
			_, v, _ := strings.Cut(lines[i+1], "=> ")
			m, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return a, fmt.Errorf("auth method line %q", lines[i+1])
			}
			a.Method = uint8(m)
		case strings.Contains(lines[i], "generating rule 14 CHUNK_DATA"):
			n, ok := bytesCount(lines[i+1])
			if !ok {
				return a, fmt.Errorf("auth data line %q", lines[i+1])
			}
			var err error
			a.Data, err = hexAfter(lines, i+2, n)
			return a, err
		}
	}
	return a, fmt.Errorf("AUTH payload without data")
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
