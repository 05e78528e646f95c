package results

import "strings"

// Statement is one statement of a SQL script (SplitStatements).
type Statement struct {
	SQL  string // from its first token to the semicolon that ends it (left out), trailing blanks trimmed
	Line int    // 1-based line of the script where its first token is
}

// SplitStatements splits a script into statements at the semicolons that end them: not those inside a string
// ('...', where a doubled quote stands for one; E'...', where a backslash escapes too; $$...$$ or $tag$...$tag$), a quoted
// identifier ("...") or a comment (-- to the end of the line, /* ... */, which may nest as in DuckDB).
// Statements of only blanks and comments are left out. A string or comment left open runs to the end of the
// script: a statement it is in is the last one, for DuckDB to report.
func SplitStatements(script string) []Statement {
	var out []Statement
	start, startLine := -1, 0 // the current statement's first token (-1: none yet)
	line := 1
	flush := func(end int) {
		if start >= 0 {
			out = append(out, Statement{SQL: strings.TrimRight(script[start:end], " \t\r\n\f"), Line: startLine})
		}
		start = -1
	}
	begin := func(i int) {
		if start < 0 {
			start, startLine = i, line
		}
	}
	// skipTo advances i to the end of a quoted or commented span starting at i, counting its newlines.
	skipTo := func(i, end int) int {
		line += strings.Count(script[i:end], "\n")
		return end
	}
	for i := 0; i < len(script); {
		c := script[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case c == ';':
			flush(i)
			i++
		case c == '-' && strings.HasPrefix(script[i:], "--"):
			end := strings.IndexByte(script[i:], '\n')
			if end < 0 {
				end = len(script) - i
			}
			i += end // the newline itself is counted above
		case c == '/' && strings.HasPrefix(script[i:], "/*"):
			i = skipTo(i, blockCommentEnd(script, i))
		case c == '\'':
			begin(i)
			escapes := i > 0 && (script[i-1] == 'E' || script[i-1] == 'e') && (i < 2 || !isIdentByte(script[i-2]))
			i = skipTo(i, quoteEnd(script, i, '\'', escapes))
		case c == '"':
			begin(i)
			i = skipTo(i, quoteEnd(script, i, '"', false))
		case c == '$' && (i == 0 || !isIdentByte(script[i-1])):
			begin(i)
			if tag, ok := dollarTag(script[i:]); ok {
				end := strings.Index(script[i+len(tag):], tag)
				if end < 0 {
					i = skipTo(i, len(script))
				} else {
					i = skipTo(i, i+len(tag)+end+len(tag))
				}
			} else {
				i++ // a parameter such as $1
			}
		default:
			begin(i)
			i++
		}
	}
	flush(len(script))
	return out
}

// quoteEnd returns the index just past the quote that closes the one at i (len(s) if none does). A doubled
// quote stands for itself; with escapes, so does a backslash-escaped one.
func quoteEnd(s string, i int, q byte, escapes bool) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if escapes {
				j++
			}
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// blockCommentEnd returns the index just past the end of the /* comment at i (len(s) if it is not closed).
// Comments nest, as in DuckDB (and PostgreSQL).
func blockCommentEnd(s string, i int) int {
	depth := 0
	for j := i; j+1 < len(s); j++ {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j++
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}

// dollarTag returns the $tag$ (or $$) that s starts with.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '$':
			return s[:j+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || (j > 1 && c >= '0' && c <= '9'):
		default:
			return "", false
		}
	}
	return "", false
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
