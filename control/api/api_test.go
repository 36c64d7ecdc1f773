package api

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func tree() *Commands {
	c := &Commands{}
	echo := func(name string) Handler {
		return func(_ context.Context, args []string) (Result, error) {
			return Result{Data: map[string]any{"cmd": name, "args": args}, Text: name + " " + strings.Join(args, " ")}, nil
		}
	}
	c.Handle("show crypto ikev2 sa", "IKEv2 SAs", echo("ikesa"))
	c.Handle("show crypto ikev2 session", "IKEv2 sessions", echo("ikesession"))
	c.Handle("show crypto ikev2 stats", "IKEv2 counters", echo("stats"))
	c.Handle("show crypto session", "crypto sessions", echo("session"))
	c.Handle("show ip route", "routes", echo("route"))
	c.Handle("clear crypto session", "clear", func(context.Context, []string) (Result, error) {
		return Result{}, fmt.Errorf("%w: no such peer", ErrUsage)
	})
	return c
}

func TestLookup(t *testing.T) {
	c := tree()
	for _, tc := range []struct {
		in       string
		want     string
		wantArgs string
		err      string
	}{
		{in: "show crypto ikev2 sa", want: "ikesa"},
		{in: "sh cry ikev2 sa detailed", want: "ikesa", wantArgs: "detailed"},
		{in: "sh cry ikev2 sa", want: "ikesa"},
		{in: "sh cry ikev2 st", want: "stats"},
		{in: "sh ip ro vrf red", want: "route", wantArgs: "vrf red"},
		{in: "show crypto ikev2 s", err: "ambiguous command (sa, session, stats)"},
		{in: "show crypto", err: "incomplete command: show crypto (next: ikev2, session)"},
		{in: "show bogus", err: "unknown command: show bogus"},
		{in: "", err: "empty command"},
	} {
		h, args, err := c.Lookup(strings.Fields(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrUsage) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		res, _ := h(context.Background(), args)
		if !strings.HasPrefix(res.Text, tc.want+" ") || strings.Join(args, " ") != tc.wantArgs {
			t.Errorf("%q: ran %q with %q", tc.in, res.Text, args)
		}
	}
}

func TestServeUnix(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "esphubd.sock")
	ln, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(tree())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	// A second daemon must not steal the live socket.
	if _, err := ListenUnix(sock); err == nil || !strings.Contains(err.Error(), "already serving") {
		t.Fatalf("second ListenUnix: %v", err)
	}

	cl := NewClient(sock)
	ctx := context.Background()
	txt, err := cl.Exec(ctx, strings.Fields("sh cry sess detail"), "text")
	if err != nil || txt != "session detail" {
		t.Fatalf("text exec = %q, %v", txt, err)
	}
	js, err := cl.Exec(ctx, strings.Fields("show crypto session"), "json")
	if err != nil || !strings.Contains(js, `"cmd": "session"`) {
		t.Fatalf("json exec = %q, %v", js, err)
	}
	if _, err := cl.Exec(ctx, strings.Fields("clear crypto session remote 198.18.0.9"), "text"); err == nil || !strings.Contains(err.Error(), "no such peer") {
		t.Fatalf("handler error not returned: %v", err)
	}
	list, err := cl.Commands(ctx)
	if err != nil || !strings.Contains(list, "show crypto ikev2 sa") {
		t.Fatalf("commands = %q, %v", list, err)
	}
}

func TestClientNoDaemon(t *testing.T) {
	cl := NewClient(filepath.Join(t.TempDir(), "none.sock"))
	_, err := cl.Exec(context.Background(), []string{"show", "ip", "route"}, "text")
	if err == nil || !strings.Contains(err.Error(), "cannot reach esphubd") {
		t.Fatalf("err = %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a crashed daemon: the listener goes away but the file stays.
	if ul, ok := ln.(interface{ SetUnlinkOnClose(bool) }); ok {
		ul.SetUnlinkOnClose(false)
	}
	ln.Close()
	ln2, err := ListenUnix(sock)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln2.Close()
}
