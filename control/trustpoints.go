package control

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/internal/logging"
	"github.com/esphub/esphub/pki"
)

// DefaultPKIDir is where esphubd looks for trustpoint material unless
// Options.PKIDir (esphubd -pki-dir) says otherwise. Each `crypto pki
// trustpoint NAME` has a directory NAME below it:
//
//	ca.pem    the CA certificate(s) that anchor peer validation (PEM, one or more)
//	cert.pem  our certificate, optionally followed by intermediates (PEM)
//	key.pem   our private key (PEM: PKCS#8, SEC 1 or PKCS#1), mode 0600
//	crl.pem   the CA's CRL (PEM or DER), for `revocation-check crl`
//
// ca.pem is needed to verify peers (`pki trustpoint NAME [verify]`);
// cert.pem and key.pem to sign (`pki trustpoint NAME [sign]` with
// `authentication local rsa-sig|ecdsa-sig`). esphubctl pki writes files
// of these names.
const DefaultPKIDir = "/etc/esphub/pki"

// Trustpoint file names inside a trustpoint's directory.
const (
	pkiCAFile   = "ca.pem"
	pkiCertFile = "cert.pem"
	pkiKeyFile  = "key.pem"
	pkiCRLFile  = "crl.pem"
)

// trustEntry is one loaded trustpoint.
type trustEntry struct {
	tp      *pki.Trustpoint // nil without ca.pem
	cred    *pki.Credential // nil without cert.pem/key.pem
	caPEM   []byte          // to keep tp across reloads when the CAs did not change
	mode    pki.RevocationMode
	crlSig  fileSig // the CRL file last loaded
	loadErr string  // why the trustpoint is not (fully) usable
	crlErr  string
}

// fileSig identifies a file's version cheaply.
type fileSig struct {
	size  int64
	mtime time.Time
}

// trustStore holds the daemon's trustpoints, loaded from files named by
// the configuration. It is safe for concurrent use.
type trustStore struct {
	dir string
	now func() time.Time

	mu  sync.Mutex
	tps map[string]*trustEntry
}

func newTrustStore(dir string, now func() time.Time) *trustStore {
	if dir == "" {
		dir = DefaultPKIDir
	}
	return &trustStore{dir: dir, now: now, tps: map[string]*trustEntry{}}
}

// load (re)reads every configured trustpoint. A trustpoint whose CA
// certificates and revocation mode did not change keeps its *pki.Trustpoint,
// so that established SAs (whose profiles point at it) still see new CRLs.
// It returns the trustpoints whose CRL changed (for
// disconnect-revoked-peers) and one line per problem. A missing or broken
// trustpoint does not stop the daemon: profiles that need it fail to
// negotiate, with the reason in the log and in show crypto pki trustpoints.
func (s *trustStore) load(cfg *config.Config) (crlChanged []*pki.Trustpoint, problems []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := map[string]*trustEntry{}
	for _, ct := range cfg.Trustpoints {
		old := s.tps[ct.Name]
		e, changed, err := s.loadOne(ct, old)
		if err != nil {
			problems = append(problems, fmt.Sprintf("trustpoint %s: %v", ct.Name, err))
		}
		if e.crlErr != "" {
			problems = append(problems, fmt.Sprintf("trustpoint %s: %s", ct.Name, e.crlErr))
		}
		if changed && e.tp != nil {
			crlChanged = append(crlChanged, e.tp)
		}
		next[ct.Name] = e
	}
	s.tps = next
	return crlChanged, problems
}

// loadOne loads one trustpoint, reusing old's Trustpoint when possible.
// changed reports a newly loaded CRL on a trustpoint that existed before.
func (s *trustStore) loadOne(ct *config.Trustpoint, old *trustEntry) (e *trustEntry, changed bool, err error) {
	e = &trustEntry{}
	dir := filepath.Join(s.dir, ct.Name)
	opts, err := pki.OptionsFromConfig(ct, s.now)
	if err != nil {
		e.loadErr = err.Error()
		return e, false, err
	}
	e.mode = opts.Revocation
	var errs []error
	caPEM, err := os.ReadFile(filepath.Join(dir, pkiCAFile))
	switch {
	case err == nil:
		if old != nil && old.tp != nil && bytes.Equal(old.caPEM, caPEM) && old.mode == e.mode {
			e.tp, e.caPEM, e.crlSig = old.tp, caPEM, old.crlSig
		} else if cas, perr := pki.ParseCertificates(caPEM); perr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pkiCAFile, perr))
		} else if tp, terr := pki.NewTrustpoint(ct.Name, cas, opts); terr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pkiCAFile, terr))
		} else {
			e.tp, e.caPEM = tp, caPEM
		}
	case errors.Is(err, fs.ErrNotExist):
		// A sign-only trustpoint: fine unless a profile verifies with it.
	default:
		errs = append(errs, err)
	}
	if e.tp != nil {
		changed = s.loadCRL(e, dir) && old != nil
	}
	cred, err := loadCredential(dir, e.tp)
	if err != nil {
		errs = append(errs, err)
	}
	e.cred = cred
	if err := errors.Join(errs...); err != nil {
		e.loadErr = err.Error()
		return e, changed, err
	}
	return e, changed, nil
}

// loadCRL installs crl.pem when it is new. It reports whether a CRL was
// installed.
func (s *trustStore) loadCRL(e *trustEntry, dir string) bool {
	path := filepath.Join(dir, pkiCRLFile)
	st, err := os.Stat(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			e.crlErr = err.Error()
		} else if e.mode == pki.RevocationCRL {
			e.crlErr = fmt.Sprintf("revocation-check crl but no %s: every peer certificate will be refused", path)
		}
		return false
	}
	sig := fileSig{size: st.Size(), mtime: st.ModTime()}
	if sig == e.crlSig {
		return false
	}
	if _, err := e.tp.LoadCRLFile(path); err != nil {
		e.crlErr = fmt.Sprintf("%s: %v", pkiCRLFile, err)
		return false
	}
	e.crlSig = sig
	return true
}

// loadCredential reads cert.pem and key.pem. The chain is completed with
// the trustpoint's CAs where they issued it, so that a peer's CERTREQ
// naming the root can be answered. Neither file: no credential, no error.
func loadCredential(dir string, tp *pki.Trustpoint) (*pki.Credential, error) {
	certPath, keyPath := filepath.Join(dir, pkiCertFile), filepath.Join(dir, pkiKeyFile)
	_, cerr := os.Stat(certPath)
	_, kerr := os.Stat(keyPath)
	if errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist) {
		return nil, nil
	}
	chain, err := pki.LoadCertificateFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkiCertFile, err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkiKeyFile, err)
	}
	key, err := pki.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkiKeyFile, err)
	}
	if tp != nil {
		chain = completeChain(chain, tp.CAs())
	}
	cred, err := pki.NewCredential(chain, key)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", pkiCertFile, pkiKeyFile, err)
	}
	return cred, nil
}

// completeChain appends the CAs that issued the chain's last certificate,
// up to a self-signed root.
func completeChain(chain, cas []*x509.Certificate) []*x509.Certificate {
	for len(chain) > 0 && len(chain) < 8 {
		last := chain[len(chain)-1]
		if bytes.Equal(last.RawIssuer, last.RawSubject) {
			break
		}
		var next *x509.Certificate
		for _, ca := range cas {
			if bytes.Equal(ca.RawSubject, last.RawIssuer) && last.CheckSignatureFrom(ca) == nil {
				next = ca
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
	}
	return chain
}

// get returns a trustpoint's entry, or nil.
func (s *trustStore) get(name string) *trustEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tps[name]
}

// anchors returns the trustpoints that can verify peers, in name order
// (CERTREQ in our IKE_SA_INIT responses).
func (s *trustStore) anchors() []*pki.Trustpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.tps))
	for n, e := range s.tps {
		if e.tp != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]*pki.Trustpoint, 0, len(names))
	for _, n := range names {
		out = append(out, s.tps[n].tp)
	}
	return out
}

// refreshCRLs re-reads every trustpoint's crl.pem that changed on disk and
// returns the trustpoints that got a new CRL.
func (s *trustStore) refreshCRLs() []*pki.Trustpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*pki.Trustpoint
	for name, e := range s.tps {
		if e.tp == nil {
			continue
		}
		e.crlErr = ""
		if s.loadCRL(e, filepath.Join(s.dir, name)) {
			out = append(out, e.tp)
		}
	}
	return out
}

// TrustpointInfo is `show crypto pki trustpoints` for one trustpoint.
type TrustpointInfo struct {
	Name        string    `json:"name"`
	Dir         string    `json:"dir"`
	CAs         []string  `json:"ca_subjects,omitempty"`
	Certificate string    `json:"certificate_subject,omitempty"`
	KeyType     string    `json:"key_type,omitempty"`
	NotAfter    time.Time `json:"certificate_not_after,omitzero"`
	Revocation  string    `json:"revocation_check"`
	CRLs        int       `json:"crls"`
	Error       string    `json:"error,omitempty"`
}

// Trustpoints describes the loaded trustpoints, by name.
func (d *Daemon) Trustpoints() []TrustpointInfo {
	s := d.trust
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TrustpointInfo
	for name, e := range s.tps {
		ti := TrustpointInfo{Name: name, Dir: filepath.Join(s.dir, name), Revocation: e.mode.String(),
			Error: joinNonEmpty("; ", e.loadErr, e.crlErr)}
		if e.tp != nil {
			for _, ca := range e.tp.CAs() {
				ti.CAs = append(ti.CAs, pki.SubjectDN(ca))
			}
			ti.CRLs = len(e.tp.CRLs())
		}
		if e.cred != nil {
			ti.Certificate = pki.SubjectDN(e.cred.Leaf())
			ti.KeyType = string(pki.KeyTypeOf(e.cred.Leaf().PublicKey))
			ti.NotAfter = e.cred.Leaf().NotAfter
		}
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ReloadCRLs re-reads the trustpoints' CRL files that changed and, with
// `crypto ikev2 disconnect-revoked-peers`, deletes the sessions whose peer
// certificate a new CRL revokes. It returns how many it deleted. esphubd
// calls it periodically (Options.CRLPoll) and on every reload.
func (d *Daemon) ReloadCRLs(ctx context.Context) (int, error) {
	return d.disconnectRevoked(ctx, d.trust.refreshCRLs())
}

func (d *Daemon) disconnectRevoked(ctx context.Context, tps []*pki.Trustpoint) (int, error) {
	if len(tps) == 0 || !d.Config().IKEv2.DisconnectRevokedPeers {
		return 0, nil
	}
	total := 0
	var errs []error
	for _, tp := range tps {
		n, err := d.engine.DisconnectRevoked(ctx, tp)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
		if n > 0 {
			d.event("IKEV2", logging.Notification, "REVOKED_PEERS", fmt.Sprintf("trustpoint %s: new CRL, %d session(s) with a revoked peer certificate disconnected", tp.Name, n))
		}
	}
	return total, errors.Join(errs...)
}

// joinNonEmpty joins the non-empty strings with sep.
func joinNonEmpty(sep string, ss ...string) string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, sep)
}
