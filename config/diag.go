package config

import (
	"errors"
	"fmt"
	"strings"
)

// Pos is a position in a configuration source: file name, 1-based line and
// 1-based column (in bytes). The zero Pos means "built in" (a smart default).
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// IsZero reports whether p is the zero position of a built-in object.
func (p Pos) IsZero() bool { return p.Line == 0 }

// String formats p as FILE:LINE:COL, or "<default>" for built-in objects.
func (p Pos) String() string {
	if p.IsZero() {
		return "<default>"
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity says whether a Diagnostic stops the configuration from loading.
type Severity uint8

const (
	// SeverityError marks a line that makes the configuration unusable.
	SeverityError Severity = iota
	// SeverityWarning marks a line esphub accepted but does not act on,
	// typically an IOS command it recognises and does not implement.
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText renders the severity as "error" or "warning" in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Diagnostic is one message about one place in the configuration.
type Diagnostic struct {
	Pos      Pos      `json:"pos"`
	Severity Severity `json:"severity"`
	Msg      string   `json:"message"`
}

// String formats d the way compilers do: FILE:LINE:COL: error|warning: message.
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Msg)
}

// Diagnostics is the ordered list of messages produced by Parse.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errors returns only the error diagnostics.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

// Warnings returns only the warning diagnostics.
func (ds Diagnostics) Warnings() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == SeverityWarning {
			out = append(out, d)
		}
	}
	return out
}

// ErrInvalid is wrapped by the error Diagnostics.Err returns.
var ErrInvalid = errors.New("invalid configuration")

// Err returns nil when ds has no errors, otherwise an error wrapping
// ErrInvalid whose text lists every error diagnostic, one per line.
func (ds Diagnostics) Err() error {
	errs := ds.Errors()
	if len(errs) == 0 {
		return nil
	}
	var b strings.Builder
	for i, d := range errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return fmt.Errorf("%w: %s", ErrInvalid, b.String())
}
