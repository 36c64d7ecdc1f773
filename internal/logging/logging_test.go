package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestEventText(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	Event(context.Background(), l, "IKEV2", Notification, "SA_UP", "SA UP", "peer", "198.18.1.2:500")
	got := buf.String()
	for _, want := range []string{`msg="%IKEV2-5-SA_UP: SA UP"`, "event=IKEV2-SA_UP", "peer=198.18.1.2:500", "level=INFO"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
}

func TestEventJSONAndLevels(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	Event(context.Background(), l, "IKEV2", Notification, "SA_UP", "SA UP")
	if buf.Len() != 0 {
		t.Fatalf("a notification passed a warn-level logger: %s", buf.String())
	}
	Event(context.Background(), l, "CRYPTO", Warning, "IKEV2_AUTH_FAIL", "authentication failed", "peer", "198.18.3.2")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.String())
	}
	if rec["msg"] != "%CRYPTO-4-IKEV2_AUTH_FAIL: authentication failed" || rec["level"] != "WARN" || rec["peer"] != "198.18.3.2" {
		t.Fatalf("record = %v", rec)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	if _, err := New(nil, "loud", "text"); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := New(nil, "info", "xml"); err == nil {
		t.Error("bad format accepted")
	}
}
