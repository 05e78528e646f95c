package results

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitStatements(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         []Statement
	}{
		{"one", "SELECT 1", []Statement{{"SELECT 1", 1}}},
		{"two with blanks", "SELECT 1;\n\n  SELECT 2 ;\n", []Statement{{"SELECT 1", 1}, {"SELECT 2", 3}}},
		{"empty statements", ";;\n ; -- nothing\n/* nor here */;", nil},
		{"semicolon in a string", "SELECT 'a;b', 'it''s;'; SELECT 2", []Statement{{"SELECT 'a;b', 'it''s;'", 1}, {"SELECT 2", 1}}},
		{"semicolon in an identifier", `SELECT 1 AS "x;""y"; SELECT 2`, []Statement{{`SELECT 1 AS "x;""y"`, 1}, {"SELECT 2", 1}}},
		{"escape string", `SELECT E'a\';b'; SELECT 2`, []Statement{{`SELECT E'a\';b'`, 1}, {"SELECT 2", 1}}},
		{"backslash in a plain string", `SELECT 'a\'; SELECT 2`, []Statement{{`SELECT 'a\'`, 1}, {"SELECT 2", 1}}},
		{"line comment", "SELECT 1 -- not; the end\n;SELECT 2", []Statement{{"SELECT 1 -- not; the end", 1}, {"SELECT 2", 2}}},
		{"leading comment", "-- first;\nSELECT 1;", []Statement{{"SELECT 1", 2}}},
		{"block comment", "SELECT /* ; /* nested; */ ; */ 1; SELECT 2", []Statement{{"SELECT /* ; /* nested; */ ; */ 1", 1}, {"SELECT 2", 1}}},
		{"dollar quotes", "SELECT $$a;b$$, $t$c;$$;$t$; SELECT 2", []Statement{{"SELECT $$a;b$$, $t$c;$$;$t$", 1}, {"SELECT 2", 1}}},
		{"parameter is no dollar quote", "SELECT $1; SELECT 2", []Statement{{"SELECT $1", 1}, {"SELECT 2", 1}}},
		{"newlines in strings count", "SELECT 'a\nb';\nSELECT 2", []Statement{{"SELECT 'a\nb'", 1}, {"SELECT 2", 3}}},
		{"unclosed string runs to the end", "SELECT 'a; SELECT 2", []Statement{{"SELECT 'a; SELECT 2", 1}}},
		{"unclosed comment", "SELECT 1; /* ; SELECT 2", []Statement{{"SELECT 1", 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, SplitStatements(tc.script)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzSplitStatements: never panics, and every statement is a non-empty part of the script in order.
func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 'a;b'", "$t$ ; $t$", "E'\\'", "/* /* */", "--", "\"", "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		for _, st := range SplitStatements(script) {
			if st.SQL == "" || st.Line < 1 {
				t.Fatalf("statement %+v of %q", st, script)
			}
		}
	})
}
