// Package logging builds esphub's loggers: log/slog in text or JSON, and the
// IOS-style event lines FlexVPN operators grep for (%IKEV2-5-SA_UP: ...),
// carried as ordinary slog records with structured attributes so that JSON
// consumers and syslog readers see the same event.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w. level is debug, info, warn or error;
// format is text or json.
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// Severity is an IOS syslog severity (0 emergencies .. 7 debugging).
type Severity int

const (
	Error         Severity = 3
	Warning       Severity = 4
	Notification  Severity = 5
	Informational Severity = 6
)

func (s Severity) level() slog.Level {
	switch {
	case s <= Error:
		return slog.LevelError
	case s == Warning:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}

// Event logs an IOS-style event: the message reads
// "%FACILITY-SEVERITY-MNEMONIC: text" and the record also carries
// event=FACILITY-MNEMONIC plus attrs, e.g.
//
//	logging.Event(ctx, log, "IKEV2", logging.Notification, "SA_UP", "SA UP", "peer", peer)
func Event(ctx context.Context, l *slog.Logger, facility string, sev Severity, mnemonic, text string, attrs ...any) {
	if l == nil {
		return
	}
	msg := fmt.Sprintf("%%%s-%d-%s: %s", facility, int(sev), mnemonic, text)
	l.Log(ctx, sev.level(), msg, append([]any{"event", facility + "-" + mnemonic}, attrs...)...)
}
