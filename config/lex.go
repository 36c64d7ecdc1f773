package config

import "strings"

// token is one word of a configuration line and the column it starts at.
type token struct {
	text   string
	col    int  // 1-based byte column
	quoted bool // the word was written inside double quotes
}

// srcLine is one physical line of the source, split into words.
type srcLine struct {
	num    int
	indent int // leading blanks, tabs counted as one
	raw    string
	toks   []token
}

// splitLines breaks src into lines and words. Words are separated by blanks
// and tabs; a double-quoted string is one word (IOS uses quotes for values
// such as `attribute type interface-config "ip mtu 1100"`). An unterminated
// quote runs to the end of the line. It never fails: what the words mean is
// decided by the parser.
func splitLines(src string) []srcLine {
	var out []srcLine
	num := 0
	for len(src) > 0 || num == 0 {
		num++
		var line string
		if i := strings.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			line, src = src, ""
		}
		line = strings.TrimSuffix(line, "\r")
		out = append(out, srcLine{num: num, raw: line, indent: indentOf(line), toks: words(line)})
		if src == "" {
			break
		}
	}
	return out
}

func indentOf(s string) int {
	n := 0
	for n < len(s) && (s[n] == ' ' || s[n] == '\t') {
		n++
	}
	return n
}

func words(s string) []token {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' {
			i++
			continue
		}
		start := i
		if c == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				toks = append(toks, token{text: s[i+1:], col: start + 1, quoted: true})
				return toks
			}
			toks = append(toks, token{text: s[i+1 : i+1+j], col: start + 1, quoted: true})
			i += j + 2
			continue
		}
		for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f' {
			i++
		}
		toks = append(toks, token{text: s[start:i], col: start + 1})
	}
	return toks
}
