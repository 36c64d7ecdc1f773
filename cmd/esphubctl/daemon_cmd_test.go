package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/control/api"
)

func startFakeDaemon(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	cmds := &api.Commands{}
	cmds.Handle("show crypto session", "sessions", func(ctx context.Context, args []string) (api.Result, error) {
		return api.Result{Data: map[string]any{"args": args}, Text: "Crypto session current status\n" + strings.Join(args, " ")}, nil
	})
	cmds.Handle("reload", "reload", func(ctx context.Context, args []string) (api.Result, error) {
		return api.Result{Text: "configuration reloaded: no changes\n"}, nil
	})
	ln, err := api.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(cmds)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return sock
}

func TestDaemonCommands(t *testing.T) {
	sock := startFakeDaemon(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"show", "cry", "sess", "detail", "-s", sock}, exitOK, "Crypto session current status\ndetail\n"},
		{[]string{"-o", "json", "show", "crypto", "session", "--socket=" + sock}, exitOK, `"args": []`},
		{[]string{"reload", "-s", sock}, exitOK, "configuration reloaded"},
		{[]string{"show", "bogus", "-s", sock}, exitUsage, ""},
		{[]string{"show", "crypto", "session", "-s", filepath.Join(t.TempDir(), "none.sock")}, exitError, ""},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: exit %d stdout %q stderr %q; want exit %d and %q", tc.args, code, out.String(), errOut.String(), tc.code, tc.want)
		}
	}
	t.Setenv("ESPHUB_SOCKET", sock)
	var out bytes.Buffer
	if code := run([]string{"show", "crypto", "session"}, &out, &bytes.Buffer{}); code != exitOK {
		t.Errorf("ESPHUB_SOCKET: exit %d", code)
	}
}
