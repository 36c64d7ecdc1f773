package main

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/esphub/esphub/pki"
)

// pkiCommand is `esphubctl pki`: a small file-based certificate authority
// for labs and tests. A CA directory holds ca.pem, ca.key (0600), and the
// CA's revocation state (revoked, crlnumber).
func pkiCommand() *command {
	return &command{
		name:    "pki",
		summary: "lab certificate authority: CAs, certificates and CRLs as PEM files (for labs and tests, not production)",
		subs: []*command{
			{name: "ca", summary: "manage lab CAs (for labs and tests)", subs: []*command{
				{name: "create", summary: "create a CA: DIR/ca.pem and DIR/ca.key (0600); for labs and tests, not production",
					usage: "--name NAME|DN --out DIR [--ecdsa p256|p384|p521 | --rsa 2048|3072|4096] [--days N] [--parent CADIR]",
					run:   pkiCACreate},
			}},
			{name: "cert", summary: "issue end-entity certificates (for labs and tests)", subs: []*command{
				{name: "issue", summary: "issue a certificate signed by the CA in --ca: DIR/CN.pem and DIR/CN.key (0600); for labs and tests",
					usage: "--ca CADIR --cn NAME [--subject DN] [--dns NAME]... [--ip ADDR]... [--email ADDR]... --out DIR [--days N] [--ecdsa p256|p384|p521 | --rsa 2048|3072|4096]",
					run:   pkiCertIssue},
			}},
			{name: "crl", summary: "revoke certificates and write the CA's CRL (all revocations so far); for labs and tests",
				usage: "--ca CADIR [--revoke CERTFILE...] --out FILE [--days N]",
				run:   pkiCRL},
			{name: "verify", summary: "check a certificate as esphub's IKE_AUTH would (chain, validity, key usage, CRLs, identity)",
				usage: "--ca CAFILE... [--crl FILE]... [--revocation crl|crl-none|none] [--fqdn NAME | --ip ADDR | --email ADDR] CERTFILE [CHAINFILE...]",
				run:   pkiVerify},
			{name: "trustpoint", summary: "lay out a trustpoint directory for esphubd -pki-dir: DIR/ca.pem, cert.pem, key.pem (0600), crl.pem",
				usage: "--out DIR --ca CAFILE... [--cert CERTFILE --key KEYFILE] [--crl CRLFILE]",
				run:   pkiTrustpoint},
			{name: "show", summary: "summarise certificates, CRLs or keys in PEM/DER files, as show crypto pki certificates does",
				usage: "FILE...",
				run:   pkiShow},
		},
	}
}

// flagKind says how often an option may appear.
type flagKind uint8

const (
	once   flagKind = iota // at most once
	repeat                 // any number of times, one value each
	greedy                 // repeatable, and the words after it are its values too (--revoke a.pem b.pem)
)

// flagSpec names a command's options.
type flagSpec map[string]flagKind

// parseFlags reads --name VALUE and --name=VALUE options. Words that are
// not options belong to the last greedy option, or are positional.
func parseFlags(args []string, spec flagSpec) (map[string][]string, []string, error) {
	out := map[string][]string{}
	var pos []string
	last := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if last != "" {
				out[last] = append(out[last], a)
			} else {
				pos = append(pos, a)
			}
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		kind, ok := spec[name]
		if !ok {
			return nil, nil, fmt.Errorf("unknown option %s", a)
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("%s needs a value", a)
			}
			i++
			val = args[i]
		}
		if kind == once && len(out[name]) > 0 {
			return nil, nil, fmt.Errorf("%s given twice", a)
		}
		out[name] = append(out[name], val)
		last = ""
		if kind == greedy {
			last = name
		}
	}
	return out, pos, nil
}

func one(f map[string][]string, name string) string {
	if v := f[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// keyTypeFlags reads --ecdsa/--rsa; def is used when neither is given.
func keyTypeFlags(f map[string][]string, def pki.KeyType) (pki.KeyType, error) {
	ec, r := one(f, "ecdsa"), one(f, "rsa")
	switch {
	case ec != "" && r != "":
		return "", errors.New("give --ecdsa or --rsa, not both")
	case ec != "":
		switch ec {
		case "p256", "p384", "p521":
			return pki.KeyType(ec), nil
		}
		return "", fmt.Errorf("--ecdsa %q: use p256, p384 or p521", ec)
	case r != "":
		switch r {
		case "2048", "3072", "4096":
			return pki.KeyType("rsa" + r), nil
		}
		return "", fmt.Errorf("--rsa %q: use 2048, 3072 or 4096", r)
	}
	return def, nil
}

func daysFlag(f map[string][]string, def int) (time.Duration, error) {
	s := one(f, "days")
	if s == "" {
		return time.Duration(def) * 24 * time.Hour, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 36500 {
		return 0, fmt.Errorf("--days %q: a number of days from 1 to 36500", s)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

// subjectFrom reads a plain name ("hub-ca") as cn=NAME, or a DN
// ("cn=hub-ca,o=esphub") as written.
func subjectFrom(s string) (string, error) {
	if strings.Contains(s, "=") {
		return s, nil
	}
	if strings.TrimSpace(s) == "" || strings.Contains(s, ",") {
		return "", fmt.Errorf("name %q: give a plain name or a DN such as cn=NAME,o=ORG", s)
	}
	return "cn=" + s, nil
}

// writeFileNew writes a file that must not exist yet (never overwrite a
// key by accident).
func writeFileNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists; remove it first or choose another --out", path)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func pkiFail(e *env, cmd string, err error) int {
	fmt.Fprintf(e.stderr, "esphubctl pki %s: %v\n", cmd, err)
	return exitError
}

func pkiUsage(e *env, cmd string, err error) int {
	fmt.Fprintf(e.stderr, "esphubctl pki %s: %v (see esphubctl pki %s --help)\n", cmd, err, cmd)
	return exitUsage
}

// loadCA reads DIR/ca.pem and DIR/ca.key.
func loadCA(dir string) (*pki.CA, error) {
	certs, err := pki.LoadCertificateFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("load ca: %w", err)
	}
	kb, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, fmt.Errorf("load ca: %w", err)
	}
	key, err := pki.ParsePrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("load ca %s: %w", dir, err)
	}
	if _, err := pki.NewCredential(certs[:1], key); err != nil {
		return nil, fmt.Errorf("load ca %s: %w", dir, err)
	}
	return &pki.CA{Cert: certs[0], Key: key}, nil
}

func pkiCACreate(e *env, args []string) int {
	const cmd = "ca create"
	f, pos, err := parseFlags(args, flagSpec{"name": once, "out": once, "ecdsa": once, "rsa": once, "days": once, "parent": once})
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	if err == nil && (one(f, "name") == "" || one(f, "out") == "") {
		err = errors.New("--name and --out are required")
	}
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	kt, err := keyTypeFlags(f, pki.KeyP256)
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	life, err := daysFlag(f, 3650)
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	dn, err := subjectFrom(one(f, "name"))
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	subject, err := pki.ParseDN(dn)
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	if subject.CommonName == "" {
		return pkiUsage(e, cmd, errors.New("the CA name needs a cn= attribute"))
	}
	var parent *pki.CA
	if p := one(f, "parent"); p != "" {
		if parent, err = loadCA(p); err != nil {
			return pkiFail(e, cmd, err)
		}
	}
	key, err := pki.GenerateKey(kt)
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	nb := time.Now().Add(-time.Hour).Truncate(time.Second)
	ca, err := pki.NewCA(key, pki.CAOptions{Subject: subject, NotBefore: nb, NotAfter: nb.Add(life), Parent: parent})
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	out := one(f, "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return pkiFail(e, cmd, err)
	}
	keyPEM, err := pki.EncodePrivateKeyPEM(key)
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	certPEM := pki.EncodeCertificatePEM(ca.Cert)
	if parent != nil {
		// An intermediate's ca.pem carries its issuer too, so that
		// certificates issued below it can ship the whole chain.
		chain, err := os.ReadFile(filepath.Join(one(f, "parent"), "ca.pem"))
		if err != nil {
			return pkiFail(e, cmd, err)
		}
		certPEM = append(certPEM, chain...)
	}
	if err := writeFileNew(filepath.Join(out, "ca.key"), keyPEM, 0o600); err != nil {
		return pkiFail(e, cmd, err)
	}
	if err := writeFileNew(filepath.Join(out, "ca.pem"), certPEM, 0o644); err != nil {
		return pkiFail(e, cmd, err)
	}
	fmt.Fprintf(e.stdout, "CA %s (%s) created: %s, key %s\n", pki.SubjectDN(ca.Cert), kt, filepath.Join(out, "ca.pem"), filepath.Join(out, "ca.key"))
	return exitOK
}

// fileName turns a common name into a safe file name.
func fileName(cn string) string {
	var b strings.Builder
	for _, r := range cn {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '@':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if s == "" {
		s = "cert"
	}
	return s
}

func pkiCertIssue(e *env, args []string) int {
	const cmd = "cert issue"
	f, pos, err := parseFlags(args, flagSpec{"ca": once, "cn": once, "subject": once, "dns": repeat, "ip": repeat, "email": repeat,
		"out": once, "days": once, "ecdsa": once, "rsa": once})
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	if err == nil && (one(f, "ca") == "" || one(f, "cn") == "" || one(f, "out") == "") {
		err = errors.New("--ca, --cn and --out are required")
	}
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	life, err := daysFlag(f, 365)
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	cn := one(f, "cn")
	dn := "cn=" + cn
	if s := one(f, "subject"); s != "" {
		dn += "," + s
	}
	subject, err := pki.ParseDN(dn)
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	opts := pki.IssueOptions{Subject: subject}
	for _, list := range f["dns"] {
		for _, d := range strings.Split(list, ",") {
			if d = strings.TrimSpace(d); d != "" {
				opts.DNS = append(opts.DNS, d)
			}
		}
	}
	for _, list := range f["ip"] {
		for _, s := range strings.Split(list, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				return pkiUsage(e, cmd, fmt.Errorf("--ip %q: %w", s, err))
			}
			opts.IPs = append(opts.IPs, a)
		}
	}
	for _, list := range f["email"] {
		for _, m := range strings.Split(list, ",") {
			if m = strings.TrimSpace(m); m != "" {
				if !strings.Contains(m, "@") {
					return pkiUsage(e, cmd, fmt.Errorf("--email %q is not an address", m))
				}
				opts.Emails = append(opts.Emails, m)
			}
		}
	}
	caDir := one(f, "ca")
	ca, err := loadCA(caDir)
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	kt, err := keyTypeFlags(f, pki.KeyTypeOf(ca.Key.Public()))
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	if kt == "" {
		kt = pki.KeyP256
	}
	key, err := pki.GenerateKey(kt)
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	opts.NotBefore = time.Now().Add(-time.Hour).Truncate(time.Second)
	opts.NotAfter = opts.NotBefore.Add(life)
	if opts.NotAfter.After(ca.Cert.NotAfter) {
		opts.NotAfter = ca.Cert.NotAfter
	}
	cert, err := ca.Issue(key.Public(), opts)
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	out := one(f, "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return pkiFail(e, cmd, err)
	}
	keyPEM, err := pki.EncodePrivateKeyPEM(key)
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	base := filepath.Join(out, fileName(cn))
	if err := writeFileNew(base+".key", keyPEM, 0o600); err != nil {
		return pkiFail(e, cmd, err)
	}
	if err := writeFileNew(base+".pem", pki.EncodeCertificatePEM(cert), 0o644); err != nil {
		return pkiFail(e, cmd, err)
	}
	fmt.Fprintf(e.stdout, "certificate %s (%s, serial %X) issued by %s: %s.pem, key %s.key\n",
		pki.SubjectDN(cert), kt, cert.SerialNumber, pki.SubjectDN(ca.Cert), base, base)
	return exitOK
}

// revokedFile is DIR/revoked: one "SERIALHEX UNIXTIME" line per revoked
// certificate, so every CRL lists all revocations so far.
func readRevoked(dir string) ([]x509.RevocationListEntry, error) {
	b, err := os.ReadFile(filepath.Join(dir, "revoked"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []x509.RevocationListEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for ln := 1; sc.Scan(); ln++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		serial, ok := new(big.Int).SetString(fields[0], 16)
		var at int64
		if len(fields) == 2 {
			at, err = strconv.ParseInt(fields[1], 10, 64)
		}
		if !ok || len(fields) != 2 || err != nil {
			return nil, fmt.Errorf("%s:%d: want SERIALHEX UNIXTIME", filepath.Join(dir, "revoked"), ln)
		}
		out = append(out, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: time.Unix(at, 0).UTC()})
	}
	return out, nil
}

func pkiCRL(e *env, args []string) int {
	const cmd = "crl"
	f, pos, err := parseFlags(args, flagSpec{"ca": once, "revoke": greedy, "out": once, "days": once})
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q (certificate files follow --revoke)", pos[0])
	}
	if err == nil && (one(f, "ca") == "" || one(f, "out") == "") {
		err = errors.New("--ca and --out are required")
	}
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	life, err := daysFlag(f, 7)
	if err != nil {
		return pkiUsage(e, cmd, err)
	}
	caDir := one(f, "ca")
	ca, err := loadCA(caDir)
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	entries, err := readRevoked(caDir)
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	known := map[string]bool{}
	for _, r := range entries {
		known[r.SerialNumber.Text(16)] = true
	}
	var added []x509.RevocationListEntry
	for _, file := range f["revoke"] {
		certs, err := pki.LoadCertificateFile(file)
		if err != nil {
			return pkiFail(e, cmd, err)
		}
		c := certs[0]
		if err := c.CheckSignatureFrom(ca.Cert); err != nil {
			return pkiFail(e, cmd, fmt.Errorf("%s was not issued by %s: %w", file, pki.SubjectDN(ca.Cert), err))
		}
		if known[c.SerialNumber.Text(16)] {
			fmt.Fprintf(e.stderr, "esphubctl pki crl: %s (serial %X) was already revoked\n", pki.SubjectDN(c), c.SerialNumber)
			continue
		}
		known[c.SerialNumber.Text(16)] = true
		added = append(added, pki.Revocations(now, c)...)
	}
	number := int64(1)
	if b, err := os.ReadFile(filepath.Join(caDir, "crlnumber")); err == nil {
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n < 0 {
			return pkiFail(e, cmd, fmt.Errorf("%s: not a number", filepath.Join(caDir, "crlnumber")))
		}
		number = n + 1
	} else if !errors.Is(err, fs.ErrNotExist) {
		return pkiFail(e, cmd, err)
	}
	all := append(entries, added...)
	der, err := ca.CRL(all, number, now, now.Add(life))
	if err != nil {
		return pkiFail(e, cmd, err)
	}
	var rev bytes.Buffer
	for _, r := range all {
		fmt.Fprintf(&rev, "%s %d\n", r.SerialNumber.Text(16), r.RevocationTime.Unix())
	}
	if err := os.WriteFile(filepath.Join(caDir, "revoked"), rev.Bytes(), 0o600); err != nil {
		return pkiFail(e, cmd, err)
	}
	if err := os.WriteFile(filepath.Join(caDir, "crlnumber"), []byte(strconv.FormatInt(number, 10)+"\n"), 0o600); err != nil {
		return pkiFail(e, cmd, err)
	}
	if err := os.WriteFile(one(f, "out"), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		return pkiFail(e, cmd, err)
	}
	fmt.Fprintf(e.stdout, "CRL %d of %s: %d revoked (%d new), next update %s: %s\n",
		number, pki.SubjectDN(ca.Cert), len(all), len(added), now.Add(life).Format(time.RFC3339), one(f, "out"))
	return exitOK
}

// certInfo is the JSON form of `pki show` for one certificate.
type certInfo struct {
	File              string    `json:"file"`
	CA                bool      `json:"ca"`
	Status            string    `json:"status"`
	Serial            string    `json:"serial"`
	Subject           string    `json:"subject"`
	Issuer            string    `json:"issuer"`
	DNS               []string  `json:"dns,omitempty"`
	IPs               []string  `json:"ip,omitempty"`
	Emails            []string  `json:"email,omitempty"`
	NotBefore         time.Time `json:"not_before"`
	NotAfter          time.Time `json:"not_after"`
	Key               string    `json:"key"`
	SignatureAlg      string    `json:"signature_algorithm"`
	KeyUsage          []string  `json:"key_usage,omitempty"`
	ExtKeyUsage       []string  `json:"extended_key_usage,omitempty"`
	FingerprintSHA256 string    `json:"fingerprint_sha256"`
	KeyHashSHA1       string    `json:"key_hash_sha1"` // what a CERTREQ names
}

// crlInfo is the JSON form of `pki show` for a CRL.
type crlInfo struct {
	File       string    `json:"file"`
	Issuer     string    `json:"issuer"`
	Number     string    `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	Revoked    []string  `json:"revoked_serials"`
}

// keyInfo is the JSON form of `pki show` for a private key (never its
// contents).
type keyInfo struct {
	File string `json:"file"`
	Key  string `json:"key"`
}

func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return fmt.Sprintf("ECDSA %s (%d bit)", k.Curve.Params().Name, k.Curve.Params().BitSize)
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA (%d bit)", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519 (256 bit)"
	}
	return fmt.Sprintf("%T", pub)
}

var keyUsageNames = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "Digital Signature"}, {x509.KeyUsageContentCommitment, "Non Repudiation"},
	{x509.KeyUsageKeyEncipherment, "Key Encipherment"}, {x509.KeyUsageDataEncipherment, "Data Encipherment"},
	{x509.KeyUsageKeyAgreement, "Key Agreement"}, {x509.KeyUsageCertSign, "Cert Sign"}, {x509.KeyUsageCRLSign, "CRL Sign"},
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny: "Any", x509.ExtKeyUsageServerAuth: "Server Auth", x509.ExtKeyUsageClientAuth: "Client Auth",
	x509.ExtKeyUsageCodeSigning: "Code Signing", x509.ExtKeyUsageEmailProtection: "Email Protection",
	x509.ExtKeyUsageIPSECEndSystem: "IPsec End System", x509.ExtKeyUsageIPSECTunnel: "IPsec Tunnel",
	x509.ExtKeyUsageIPSECUser: "IPsec User", x509.ExtKeyUsageTimeStamping: "Time Stamping", x509.ExtKeyUsageOCSPSigning: "OCSP Signing",
}

func describeCert(file string, c *x509.Certificate, now time.Time) certInfo {
	ci := certInfo{File: file, CA: c.IsCA, Serial: fmt.Sprintf("%X", c.SerialNumber), Subject: pki.SubjectDN(c), Issuer: pki.IssuerDN(c),
		DNS: c.DNSNames, Emails: c.EmailAddresses, NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		Key: describeKey(c.PublicKey), SignatureAlg: c.SignatureAlgorithm.String()}
	switch {
	case now.Before(c.NotBefore):
		ci.Status = "Not yet valid"
	case now.After(c.NotAfter):
		ci.Status = "Expired"
	default:
		ci.Status = "Available"
	}
	for _, ip := range c.IPAddresses {
		ci.IPs = append(ci.IPs, ip.String())
	}
	for _, u := range keyUsageNames {
		if c.KeyUsage&u.bit != 0 {
			ci.KeyUsage = append(ci.KeyUsage, u.name)
		}
	}
	for _, u := range c.ExtKeyUsage {
		if n, ok := extKeyUsageNames[u]; ok {
			ci.ExtKeyUsage = append(ci.ExtKeyUsage, n)
		}
	}
	for _, u := range c.UnknownExtKeyUsage {
		if u.String() == "1.3.6.1.5.5.7.3.17" {
			ci.ExtKeyUsage = append(ci.ExtKeyUsage, "IPsec IKE")
		} else {
			ci.ExtKeyUsage = append(ci.ExtKeyUsage, u.String())
		}
	}
	fp := sha256.Sum256(c.Raw)
	ci.FingerprintSHA256 = strings.ToUpper(hex.EncodeToString(fp[:]))
	kh := sha1.Sum(c.RawSubjectPublicKeyInfo)
	ci.KeyHashSHA1 = strings.ToUpper(hex.EncodeToString(kh[:]))
	return ci
}

// iosDate renders a time as IOS certificate dates do: "11:22:33 UTC Nov 22 2026".
func iosDate(t time.Time) string { return t.UTC().Format("15:04:05 MST Jan 2 2006") }

func printCert(e *env, ci certInfo, c *x509.Certificate) {
	w := e.stdout
	if ci.CA {
		fmt.Fprintln(w, "CA Certificate")
	} else {
		fmt.Fprintln(w, "Certificate")
	}
	fmt.Fprintf(w, "  File: %s\n", ci.File)
	fmt.Fprintf(w, "  Status: %s\n", ci.Status)
	fmt.Fprintf(w, "  Certificate Serial Number (hex): %s\n", ci.Serial)
	fmt.Fprintf(w, "  Issuer:\n    %s\n", ci.Issuer)
	fmt.Fprintf(w, "  Subject:\n")
	if c.Subject.CommonName != "" {
		fmt.Fprintf(w, "    Name: %s\n", c.Subject.CommonName)
	}
	fmt.Fprintf(w, "    %s\n", ci.Subject)
	if len(ci.DNS)+len(ci.IPs)+len(ci.Emails) > 0 {
		fmt.Fprintf(w, "  Subject Alternative Names:\n")
		for _, d := range ci.DNS {
			fmt.Fprintf(w, "    DNS: %s\n", d)
		}
		for _, d := range ci.IPs {
			fmt.Fprintf(w, "    IP Address: %s\n", d)
		}
		for _, d := range ci.Emails {
			fmt.Fprintf(w, "    Email: %s\n", d)
		}
	}
	fmt.Fprintf(w, "  Validity Date:\n    start date: %s\n    end   date: %s\n", iosDate(ci.NotBefore), iosDate(ci.NotAfter))
	fmt.Fprintf(w, "  Subject Key Info:\n    Public Key Algorithm: %s\n", ci.Key)
	fmt.Fprintf(w, "  Signature Algorithm: %s\n", ci.SignatureAlg)
	if len(ci.KeyUsage) > 0 {
		fmt.Fprintf(w, "  Key Usage: %s\n", strings.Join(ci.KeyUsage, ", "))
	}
	if len(ci.ExtKeyUsage) > 0 {
		fmt.Fprintf(w, "  Extended Key Usage: %s\n", strings.Join(ci.ExtKeyUsage, ", "))
	}
	fmt.Fprintf(w, "  Fingerprint SHA256: %s\n", ci.FingerprintSHA256)
	fmt.Fprintf(w, "  Key Hash SHA1 (CERTREQ): %s\n\n", ci.KeyHashSHA1)
}

func pkiShow(e *env, args []string) int {
	if len(args) == 0 {
		return pkiUsage(e, "show", errors.New("give one or more files"))
	}
	var items []any
	status := exitOK
	now := time.Now()
	for _, file := range args {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(e.stderr, "esphubctl pki show: %v\n", err)
			status = exitError
			continue
		}
		found, err := showFile(e, file, data, now, &items)
		if err != nil || found == 0 {
			if err == nil {
				err = errors.New("no certificate, CRL or key found")
			}
			fmt.Fprintf(e.stderr, "esphubctl pki show: %s: %v\n", file, err)
			status = exitError
		}
	}
	if e.output == "json" {
		if items == nil {
			items = []any{}
		}
		writeJSON(e, items)
	}
	return status
}

// showFile describes every PEM block of data (or data as one DER
// certificate or CRL) and returns how many it recognised.
func showFile(e *env, file string, data []byte, now time.Time, items *[]any) (int, error) {
	text := e.output == "text"
	n := 0
	addCert := func(c *x509.Certificate) {
		ci := describeCert(file, c, now)
		*items = append(*items, ci)
		if text {
			printCert(e, ci, c)
		}
		n++
	}
	addCRL := func(crl *x509.RevocationList) {
		issuer, _ := pki.FormatRawDN(crl.RawIssuer)
		ci := crlInfo{File: file, Issuer: issuer, ThisUpdate: crl.ThisUpdate.UTC(), NextUpdate: crl.NextUpdate.UTC(), Revoked: []string{}}
		if crl.Number != nil {
			ci.Number = crl.Number.String()
		}
		for _, r := range crl.RevokedCertificateEntries {
			ci.Revoked = append(ci.Revoked, fmt.Sprintf("%X", r.SerialNumber))
		}
		*items = append(*items, ci)
		if text {
			w := e.stdout
			fmt.Fprintf(w, "CRL\n  File: %s\n  Issuer:\n    %s\n  CRL Number: %s\n", file, ci.Issuer, ci.Number)
			fmt.Fprintf(w, "  This Update: %s\n  Next Update: %s\n", iosDate(ci.ThisUpdate), iosDate(ci.NextUpdate))
			fmt.Fprintf(w, "  Revoked certificates: %d\n", len(ci.Revoked))
			for _, s := range ci.Revoked {
				fmt.Fprintf(w, "    Serial Number (hex): %s\n", s)
			}
			fmt.Fprintln(w)
		}
		n++
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		if c, err := x509.ParseCertificate(data); err == nil {
			addCert(c)
			return n, nil
		}
		crl, err := x509.ParseRevocationList(data)
		if err != nil {
			return 0, errors.New("not PEM, and not a DER certificate or CRL")
		}
		addCRL(crl)
		return n, nil
	}
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return n, nil
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return n, fmt.Errorf("certificate %d: %w", n+1, err)
			}
			addCert(c)
		case "X509 CRL":
			crl, err := x509.ParseRevocationList(b.Bytes)
			if err != nil {
				return n, fmt.Errorf("crl: %w", err)
			}
			addCRL(crl)
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
			key, err := pki.ParsePrivateKey(pem.EncodeToMemory(b))
			if err != nil {
				return n, err
			}
			ki := keyInfo{File: file, Key: describeKey(key.Public())}
			*items = append(*items, ki)
			if text {
				fmt.Fprintf(e.stdout, "Private Key\n  File: %s\n  Key: %s\n\n", file, ki.Key)
			}
			n++
		}
	}
}
