package ingest

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoRecords is what a *NoRecordsError matches with errors.Is.
var ErrNoRecords = errors.New("no flow log records")

// NoRecordsError is the Reader's error (Err) when its whole input held not one record: every file was empty,
// or held only header lines or bad lines. Nothing should be written from such a run. The message says what
// the lines looked like and what to try.
type NoRecordsError struct {
	Files       int
	Lines       int64
	HeaderLines int64
	BadLines    int64
	BadByReason map[string]int64
	Example     *LineError  // the first bad line, if any
	FileErrors  []FileError // files that stopped early
	Stdin       bool        // the input was standard input alone
}

func (e *NoRecordsError) Unwrap() error { return ErrNoRecords }

func (e *NoRecordsError) Error() string {
	var b strings.Builder
	what := fmt.Sprintf("%d input files", e.Files)
	switch {
	case e.Stdin:
		what = "standard input"
	case e.Files == 1:
		what = "the input file"
	}
	switch {
	case e.Lines == 0:
		fmt.Fprintf(&b, "no flow log records: %s had no lines", what)
	case e.BadLines == 0:
		fmt.Fprintf(&b, "no flow log records: %s had only header lines (%d)", what, e.HeaderLines)
	default:
		fmt.Fprintf(&b, "no flow log records: all %d lines of %s were bad", e.BadLines, what)
		if e.HeaderLines > 0 {
			fmt.Fprintf(&b, " (besides %d header lines)", e.HeaderLines)
		}
		fmt.Fprintf(&b, ": %s", reasonList(e.BadByReason))
		if e.Example != nil {
			fmt.Fprintf(&b, " (e.g. %s:%d %.120q)", e.Example.File, e.Example.Line, e.Example.Text)
		}
		if hint := e.hint(); hint != "" {
			b.WriteString("; " + hint)
		}
	}
	for _, fe := range e.FileErrors {
		fmt.Fprintf(&b, "; %s", fe)
	}
	return b.String()
}

// hint suggests a fix for the commonest bad-line reason.
func (e *NoRecordsError) hint() string {
	top, n := "", int64(0)
	for r, c := range e.BadByReason {
		if c > n || c == n && r < top {
			top, n = r, c
		}
	}
	switch top {
	case ReasonFieldCount.String():
		return "the lines do not have the fields of the log format: if the flow log has a custom format, give it with " +
			"--log-format '${version} ${account-id} ...' (its LogFormat); CloudWatch Logs exports and JSON are " +
			"recognised by content, other wrappers are not"
	case ReasonBadNumber.String(), ReasonBadAddress.String(), ReasonBadValue.String(), ReasonOutOfRange.String():
		return "the fields are not where the log format puts them: give the flow log's format with --log-format " +
			"'${version} ${account-id} ...' (its LogFormat)"
	case ReasonInvalidByte.String():
		return "the input holds bytes flow logs never do: is it compressed other than with gzip, or not a flow log?"
	}
	return ""
}

// reasonList renders counts by reason as "field-count: 3, bad-number: 1", largest first.
func reasonList(m map[string]int64) string {
	var parts []string
	for r := Reason(1); r < reasonCount; r++ {
		if n := m[r.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", r, n))
		}
	}
	return strings.Join(parts, ", ")
}

// noRecords describes a finished run that produced no record.
func (r *Reader) noRecords() *NoRecordsError {
	t := r.final
	e := &NoRecordsError{Files: len(r.inputs), Lines: t.lines, HeaderLines: t.headers, BadLines: t.bad,
		BadByReason: map[string]int64{}, FileErrors: r.fileErr,
		Stdin: len(r.inputs) == 1 && r.inputs[0].path == StdinName}
	for i, n := range t.badBy {
		if n > 0 {
			e.BadByReason[Reason(i).String()] = n
		}
	}
	if len(t.errs) > 0 {
		e.Example = &t.errs[0]
	}
	return e
}
