package swan

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"regexp"
	"strconv"
	"strings"
)

// Dump is one binary value charon logged as "label => N bytes @ 0x…"
// followed by hex lines (at log level 4 for ike and chd).
type Dump struct {
	Time   string // as logged, HH:MM:SS
	Thread int
	Group  string // IKE, CHD, ...
	Label  string // e.g. "Sk_ei secret", "encryption initiator key"
	Data   []byte
}

// IKEKeys are the keys of one IKE SA as charon derived them, in log order
// (the first is the initial IKE SA, later ones are rekeys).
type IKEKeys struct {
	// Initiator is charon's role in the exchange that created the SA.
	Initiator bool
	// SPIi and SPIr identify the SA for tshark's IKEv2 decryption table.
	// They are known for SAs created by IKE_SA_INIT (matched through the
	// responder's AUTH octets, which charon logs) and zero for rekeyed SAs.
	SPIi, SPIr                  uint64
	SharedSecret, SKEYSEED      []byte
	SKd, SKai, SKar, SKei, SKer []byte
	SKpi, SKpr                  []byte
}

// ChildKeys are the ESP keys of one CHILD_SA, with the SPIs charon
// installed them under.
type ChildKeys struct {
	// Initiator is charon's role in the exchange that created the SA.
	Initiator bool
	// Seed is the prf+ seed: [g^ir (PFS)] | Ni | Nr.
	Seed                         []byte
	EncrI, IntegI, EncrR, IntegR []byte
	SPIIn, SPIOut                uint32
}

// Outbound returns the keys protecting packets charon sends (SPIOut).
func (c ChildKeys) Outbound() (encr, integ []byte) {
	if c.Initiator {
		return c.EncrI, c.IntegI
	}
	return c.EncrR, c.IntegR
}

// Inbound returns the keys protecting packets charon receives (SPIIn).
func (c ChildKeys) Inbound() (encr, integ []byte) {
	if c.Initiator {
		return c.EncrR, c.IntegR
	}
	return c.EncrI, c.IntegI
}

// Keys is what ParseKeys found in a log.
type Keys struct {
	IKE   []IKEKeys
	Child []ChildKeys
	Dumps []Dump

	auth []authDump
}

// authDump is one AUTH computation charon logged: the identity payload
// body and the signed octets (message | nonce | prf(SK_p, ID')).
type authDump struct{ id, octets []byte }

// ChildBySPI returns the CHILD_SA keys installed with spi as inbound or
// outbound SPI.
func (k Keys) ChildBySPI(spi uint32) (ChildKeys, bool) {
	for _, c := range k.Child {
		if c.SPIIn == spi || c.SPIOut == spi {
			return c, true
		}
	}
	return ChildKeys{}, false
}

// IKEBySPI returns the keys of the IKE SA with these SPIs (known for SAs
// created by IKE_SA_INIT, see IKEKeys.SPIi).
func (k Keys) IKEBySPI(spii, spir uint64) (IKEKeys, bool) {
	for _, ike := range k.IKE {
		if ike.SPIi == spii && ike.SPIr == spir {
			return ike, true
		}
	}
	return IKEKeys{}, false
}

var (
	logLine    = regexp.MustCompile(`^(\S+) (\d+)\[(\w+)\] (.*)$`)
	dumpHeader = regexp.MustCompile(`^(.*?) => (\d+) bytes @ `)
	hexLine    = regexp.MustCompile(`^\s*\d+: `)
	parsedMsg  = regexp.MustCompile(`^parsed \S+ (request|response) `)
	// "CHILD_SA net{2} established with SPIs 3515e46a_i c067c1bc_o ...",
	// optionally prefixed by "inbound " when a rekey responder delays the
	// outbound SA; it is logged on the thread that derived the keys.
	established = regexp.MustCompile(`CHILD_SA \S+ established with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o`)
)

type threadState struct {
	dump      *Dump
	want      int
	initiator bool
	dh        []byte
	id        []byte // the last "IDx'" dump
	ike       *IKEKeys
	child     *ChildKeys
}

// ParseKeys extracts the IKE and Child SA keys from a charon log written
// with ike = 4 and chd = 4. Lines of different threads may interleave; the
// parser follows each thread. Malformed lines are skipped.
func ParseKeys(log []byte) Keys {
	var k Keys
	threads := map[int]*threadState{}
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		m := logLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		tid, _ := strconv.Atoi(m[2])
		ts := threads[tid]
		if ts == nil {
			ts = &threadState{}
			threads[tid] = ts
		}
		msg := m[4]
		if ts.dump != nil && hexLine.MatchString(msg) {
			ts.dump.Data = appendHexLine(ts.dump.Data, msg, ts.want-len(ts.dump.Data))
			if len(ts.dump.Data) >= ts.want {
				k.Dumps = append(k.Dumps, *ts.dump)
				k.consume(ts, *ts.dump)
				ts.dump = nil
			}
			continue
		}
		ts.dump = nil
		if h := dumpHeader.FindStringSubmatch(msg); h != nil {
			n, _ := strconv.Atoi(h[2])
			d := &Dump{Time: m[1], Thread: tid, Group: m[3], Label: h[1]}
			if n == 0 {
				k.Dumps = append(k.Dumps, *d)
				k.consume(ts, *d)
				continue
			}
			ts.dump, ts.want = d, n
			continue
		}
		if p := parsedMsg.FindStringSubmatch(msg); p != nil && m[3] == "ENC" {
			ts.initiator = p[1] == "response"
			continue
		}
		if e := established.FindStringSubmatch(msg); e != nil && ts.child != nil {
			in, _ := strconv.ParseUint(e[1], 16, 32)
			out, _ := strconv.ParseUint(e[2], 16, 32)
			ts.child.SPIIn, ts.child.SPIOut = uint32(in), uint32(out)
			k.Child = append(k.Child, *ts.child)
			ts.child = nil
		}
	}
	k.matchSPIs()
	return k
}

// matchSPIs finds, for each IKE SA, the responder's signed octets: they
// start with the IKE_SA_INIT response (whose header holds both SPIs) and
// end with prf(SK_pr, IDr'), which only that SA's SK_pr reproduces.
func (k *Keys) matchSPIs() {
	for i := range k.IKE {
		ike := &k.IKE[i]
		h := hashForSize(len(ike.SKpr))
		if h == nil {
			continue
		}
		for _, a := range k.auth {
			o := a.octets
			if len(o) < 28+len(ike.SKpr) || o[18] != 34 || o[19]&0x20 == 0 {
				continue // not an IKE_SA_INIT response
			}
			m := hmac.New(h, ike.SKpr)
			m.Write(a.id)
			if hmac.Equal(m.Sum(nil), o[len(o)-len(ike.SKpr):]) {
				ike.SPIi = binary.BigEndian.Uint64(o[0:8])
				ike.SPIr = binary.BigEndian.Uint64(o[8:16])
				break
			}
		}
	}
}

// hashForSize picks the HMAC hash of a PRF from its output size.
func hashForSize(n int) func() hash.Hash {
	switch n {
	case sha1.Size:
		return sha1.New
	case sha256.Size:
		return sha256.New
	case sha512.Size384:
		return sha512.New384
	case sha512.Size:
		return sha512.New
	}
	return nil
}

// appendHexLine appends up to max bytes from a hex dump line
// ("  16: 3C 4B 8C …  <ascii>").
func appendHexLine(dst []byte, line string, max int) []byte {
	_, rest, ok := strings.Cut(line, ": ")
	if !ok {
		return dst
	}
	for i := 0; i < 16 && max > 0 && len(rest) >= 2; i++ {
		b, err := hex.DecodeString(rest[:2])
		if err != nil {
			break
		}
		dst = append(dst, b[0])
		max--
		if len(rest) < 3 || rest[2] != ' ' {
			break
		}
		rest = rest[3:]
	}
	return dst
}

func (k *Keys) consume(ts *threadState, d Dump) {
	switch d.Label {
	case "shared Diffie Hellman secret":
		ts.dh = d.Data
	case "IDx'":
		ts.id = d.Data
	case "octets = message + nonce + prf(Sk_px, IDx')":
		if ts.id != nil {
			k.auth = append(k.auth, authDump{id: ts.id, octets: d.Data})
		}
	case "SKEYSEED":
		ts.ike = &IKEKeys{Initiator: ts.initiator, SharedSecret: ts.dh, SKEYSEED: d.Data}
	case "Sk_d secret", "Sk_ai secret", "Sk_ar secret", "Sk_ei secret", "Sk_er secret", "Sk_pi secret", "Sk_pr secret":
		if ts.ike == nil {
			return
		}
		switch d.Label {
		case "Sk_d secret":
			ts.ike.SKd = d.Data
		case "Sk_ai secret":
			ts.ike.SKai = d.Data
		case "Sk_ar secret":
			ts.ike.SKar = d.Data
		case "Sk_ei secret":
			ts.ike.SKei = d.Data
		case "Sk_er secret":
			ts.ike.SKer = d.Data
		case "Sk_pi secret":
			ts.ike.SKpi = d.Data
		case "Sk_pr secret":
			ts.ike.SKpr = d.Data
			k.IKE = append(k.IKE, *ts.ike)
			ts.ike = nil
		}
	case "seed":
		if d.Group == "CHD" {
			ts.child = &ChildKeys{Initiator: ts.initiator, Seed: d.Data}
		}
	case "encryption initiator key", "integrity initiator key", "encryption responder key", "integrity responder key":
		if ts.child == nil {
			return
		}
		switch d.Label {
		case "encryption initiator key":
			ts.child.EncrI = d.Data
		case "integrity initiator key":
			ts.child.IntegI = d.Data
		case "encryption responder key":
			ts.child.EncrR = d.Data
		case "integrity responder key":
			ts.child.IntegR = d.Data
		}
	}
}
