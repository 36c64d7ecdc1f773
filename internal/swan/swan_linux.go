package swan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
)

// Charon is the strongSwan daemon; Swanctl its control tool.
const (
	Charon  = "/usr/lib/ipsec/charon"
	Swanctl = "swanctl"
)

// Instance is a running charon. Its methods are safe for concurrent use.
type Instance struct {
	Name  string
	NetNS string
	Dir   string

	cfg     Config
	tempDir bool
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stop    sync.Once
}

// Start writes the instance's configuration, starts charon in netns and
// waits until its vici socket accepts swanctl, then loads the
// connections and secrets. It needs root, charon and swanctl.
func Start(ctx context.Context, netns string, cfg Config) (*Instance, error) {
	if cfg.Name == "" {
		cfg.Name = "swan"
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	in := &Instance{Name: cfg.Name, NetNS: netns, Dir: cfg.Dir, cfg: cfg, exited: make(chan struct{})}
	if in.Dir == "" {
		d, err := os.MkdirTemp("", "swan-"+cfg.Name+"-")
		if err != nil {
			return nil, fmt.Errorf("swan %s: %w", cfg.Name, err)
		}
		in.Dir, in.tempDir = d, true
	}
	dir, err := filepath.Abs(in.Dir)
	if err != nil {
		return nil, fmt.Errorf("swan %s: %w", cfg.Name, err)
	}
	in.Dir = dir
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		return nil, fmt.Errorf("swan %s: %w", cfg.Name, err)
	}
	files := map[string]string{"strongswan.conf": cfg.renderStrongswan(dir), "swanctl.conf": cfg.RenderSwanctl()}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return nil, fmt.Errorf("swan %s: %w", cfg.Name, err)
		}
	}
	_ = os.Remove(in.viciPath())
	stderr, err := os.Create(filepath.Join(dir, "charon.stderr"))
	if err != nil {
		return nil, fmt.Errorf("swan %s: %w", cfg.Name, err)
	}
	defer stderr.Close()
	// ip netns exec gives charon a private mount namespace; the bind mount
	// of run/ over /run gives it a private pid file. exec keeps the pid.
	script := fmt.Sprintf("mount --bind %s /run && exec %s", filepath.Join(dir, "run"), Charon)
	in.cmd = exec.Command("ip", "netns", "exec", netns, "sh", "-c", script)
	in.cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(dir, "strongswan.conf"))
	in.cmd.Stdout, in.cmd.Stderr = stderr, stderr
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := in.cmd.Start(); err != nil {
		in.cleanupDir()
		return nil, fmt.Errorf("swan %s: start charon: %w", cfg.Name, err)
	}
	go func() {
		in.waitErr = in.cmd.Wait()
		close(in.exited)
	}()
	if err := in.waitReady(ctx); err != nil {
		tail := in.LogTail(30)
		in.Stop()
		return nil, fmt.Errorf("swan %s: %w\n%s", cfg.Name, err, tail)
	}
	if err := in.Load(ctx); err != nil {
		tail := in.LogTail(30)
		in.Stop()
		return nil, fmt.Errorf("swan %s: %w\n%s", cfg.Name, err, tail)
	}
	return in, nil
}

// StartT is Start for tests: it checks the prerequisites (skipping, or
// failing under CI=true), fails t on error, stops the instance in
// t.Cleanup, and when t has failed attaches the end of charon's log.
func StartT(t testing.TB, netns string, cfg Config) *Instance {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, Charon, Swanctl, "ip")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	in, err := Start(ctx, netns, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("strongSwan %s (netns %s) log tail:\n%s", in.Name, in.NetNS, in.LogTail(150))
		}
		in.Stop()
	})
	return in
}

func (in *Instance) viciPath() string { return filepath.Join(in.Dir, "charon.vici") }

// URI is the vici socket URI to pass to swanctl --uri.
func (in *Instance) URI() string { return "unix://" + in.viciPath() }

// LogPath is charon's log file.
func (in *Instance) LogPath() string { return filepath.Join(in.Dir, "charon.log") }

// Log returns charon's log so far.
func (in *Instance) Log() ([]byte, error) { return os.ReadFile(in.LogPath()) }

// LogTail returns the last n lines of charon's log and its stderr, for
// error messages.
func (in *Instance) LogTail(n int) string {
	var b strings.Builder
	for _, f := range []string{"charon.stderr", "charon.log"} {
		data, err := os.ReadFile(filepath.Join(in.Dir, f))
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", f, strings.Join(lines, "\n"))
	}
	return b.String()
}

// Running reports whether charon is still running.
func (in *Instance) Running() bool {
	select {
	case <-in.exited:
		return false
	default:
		return true
	}
}

func (in *Instance) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.StartTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(in.viciPath()); err == nil {
			// The socket exists once the vici plugin listens; a
			// round trip proves charon answers.
			if _, err := in.Swanctl(ctx, "--stats"); err == nil {
				return nil
			}
		}
		select {
		case <-in.exited:
			return fmt.Errorf("charon exited during start: %v", in.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("charon's vici socket not ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Swanctl runs swanctl against this instance with args and returns its
// combined output; a non-zero exit is an error that includes the output.
func (in *Instance) Swanctl(ctx context.Context, args ...string) (string, error) {
	args = append(args, "--uri", in.URI())
	cmd := exec.CommandContext(ctx, Swanctl, args...)
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(in.Dir, "strongswan.conf"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("swanctl %s: %w: %s", strings.Join(args[:len(args)-2], " "), err, lastLines(out.String(), 5))
	}
	return out.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Load (re)loads connections and secrets from the instance's swanctl.conf.
func (in *Instance) Load(ctx context.Context) error {
	_, err := in.Swanctl(ctx, "--load-all", "--noprompt", "--file", filepath.Join(in.Dir, "swanctl.conf"))
	return err
}

// LoadConfig replaces swanctl.conf with cfg's connections and secrets and
// loads it (connections missing from the new file are unloaded).
func (in *Instance) LoadConfig(ctx context.Context, cfg Config) error {
	if err := os.WriteFile(filepath.Join(in.Dir, "swanctl.conf"), []byte(cfg.RenderSwanctl()), 0o600); err != nil {
		return fmt.Errorf("swan %s: %w", in.Name, err)
	}
	return in.Load(ctx)
}

// Initiate establishes the IKE SA ike with its CHILD_SA child and waits
// for the result.
func (in *Instance) Initiate(ctx context.Context, ike, child string) error {
	_, err := in.Swanctl(ctx, "--initiate", "--ike", ike, "--child", child, "--timeout", timeoutSecs(ctx))
	return err
}

// Terminate deletes the IKE SA named ike (and its CHILD_SAs) and waits.
func (in *Instance) Terminate(ctx context.Context, ike string) error {
	_, err := in.Swanctl(ctx, "--terminate", "--ike", ike, "--timeout", timeoutSecs(ctx))
	return err
}

// TerminateChild deletes the CHILD_SA named child and waits.
func (in *Instance) TerminateChild(ctx context.Context, child string) error {
	_, err := in.Swanctl(ctx, "--terminate", "--child", child, "--timeout", timeoutSecs(ctx))
	return err
}

// SAKind selects what Rekey rekeys.
type SAKind int

const (
	KindIKE SAKind = iota
	KindChild
)

// Rekey starts a rekeying of the IKE SA or CHILD_SA called name and
// returns when strongSwan reports completion.
func (in *Instance) Rekey(ctx context.Context, kind SAKind, name string) error {
	flag := "--ike"
	if kind == KindChild {
		flag = "--child"
	}
	_, err := in.Swanctl(ctx, "--rekey", flag, name)
	return err
}

// Reauth starts a reauthentication of the IKE SA called name.
func (in *Instance) Reauth(ctx context.Context, name string) error {
	_, err := in.Swanctl(ctx, "--rekey", "--ike", name, "--reauth")
	return err
}

func timeoutSecs(ctx context.Context) string {
	if dl, ok := ctx.Deadline(); ok {
		s := int(time.Until(dl).Seconds())
		if s < 1 {
			s = 1
		}
		return fmt.Sprint(s)
	}
	return "60"
}

// ListSAs returns strongSwan's view of its IKE SAs and CHILD_SAs.
func (in *Instance) ListSAs(ctx context.Context) ([]IKESA, error) {
	out, err := in.Swanctl(ctx, "--list-sas", "--pretty")
	if err != nil {
		return nil, err
	}
	sas, err := ParseListSAs(out)
	if err != nil {
		return nil, fmt.Errorf("swan %s: %w", in.Name, err)
	}
	return sas, nil
}

// WaitSA polls ListSAs until an IKE SA satisfies ok, and returns it.
func (in *Instance) WaitSA(ctx context.Context, ok func(IKESA) bool) (IKESA, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last []IKESA
	for {
		sas, err := in.ListSAs(ctx)
		if err == nil {
			last = sas
			for _, sa := range sas {
				if ok(sa) {
					return sa, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return IKESA{}, fmt.Errorf("swan %s: waiting for SA (have %+v): %w", in.Name, last, ctx.Err())
		case <-in.exited:
			return IKESA{}, fmt.Errorf("swan %s: charon exited: %v", in.Name, in.waitErr)
		case <-tick.C:
		}
	}
}

// Keys parses the keys charon has logged so far.
func (in *Instance) Keys() (Keys, error) {
	data, err := in.Log()
	if err != nil {
		return Keys{}, fmt.Errorf("swan %s: %w", in.Name, err)
	}
	return ParseKeys(data), nil
}

// WaitLog polls charon's log until a line matches the regular expression
// pattern and returns that line: tests wait for events strongSwan only
// logs (a received DELETE, a liveness check, a retransmit).
func (in *Instance) WaitLog(ctx context.Context, pattern string) (string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", fmt.Errorf("swan %s: %w", in.Name, err)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := in.Log(); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if re.MatchString(line) {
					return line, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("swan %s: no log line matches %q: %w", in.Name, pattern, ctx.Err())
		case <-tick.C:
		}
	}
}

// Kill ends charon with SIGKILL and no Delete sent, as a crashed peer
// would; liveness tests use it. Stop is still safe to call afterwards.
func (in *Instance) Kill() {
	if in.cmd != nil && in.cmd.Process != nil && in.Running() {
		_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
		<-in.exited
	}
}

// Stop terminates charon (SIGTERM, then SIGKILL after 10s) and removes a
// temporary directory. It is idempotent.
func (in *Instance) Stop() {
	in.stop.Do(func() {
		if in.cmd != nil && in.cmd.Process != nil && in.Running() {
			_ = in.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-in.exited:
			case <-time.After(10 * time.Second):
				// Kill the process group: charon and anything it forked (updown).
				_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
				<-in.exited
			}
		}
		in.cleanupDir()
	})
}

func (in *Instance) cleanupDir() {
	if in.tempDir && os.Getenv("SWAN_KEEP") == "" {
		_ = os.RemoveAll(in.Dir)
	}
}

// ErrNoSA is returned by lookups that find no matching SA.
var ErrNoSA = errors.New("no such SA")
