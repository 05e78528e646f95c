package report

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/internal/human"
	"github.com/flowlens/flowlens/pkg/results"
)

// chromiumPath is Debian's chromium (apt-get install chromium), which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// pageFigures are the numbers the page shows, read in the browser from its elements.
type pageFigures struct {
	Records      string     `json:"records"`
	RecordsText  string     `json:"recordsText"`
	Agreed       string     `json:"agreed"`
	Compared     string     `json:"compared"`
	LoggedReject string     `json:"loggedReject"`
	Timeline     string     `json:"timeline"`
	Rects        [][]string `json:"rects"` // bucket start, series, records
	Ports        [][]string `json:"ports"` // key, records, the records as shown
	Peers        [][]string `json:"peers"`
	Edges        [][]string `json:"edges"` // source, destination, records, bytes
	Unused       string     `json:"unused"`
	WouldBreak   string     `json:"wouldBreak"`
	Proposed     string     `json:"proposed"`
	// The page fits its width: no horizontal scrolling at 1100 px.
	ScrollWidth, ClientWidth int
}

const readFigures = `(() => {
	const q = s => document.querySelector(s), all = s => [...document.querySelectorAll(s)];
	const rows = (s, f) => all(s).map(f);
	return {
		records: q('#records').dataset.value, recordsText: q('#records').textContent.trim(),
		agreed: q('#agreement').dataset.agreed, compared: q('#agreement').dataset.compared,
		loggedReject: q('#logged-rejects').dataset.value, timeline: q('#timeline').dataset.records,
		rects: rows('g.bucket rect', r => [r.parentElement.dataset.start, r.dataset.series, r.dataset.records]),
		ports: rows('tr.port', r => [r.dataset.key, r.dataset.records, r.cells[2].textContent.trim()]),
		peers: rows('tr.peer', r => [r.dataset.key, r.dataset.records, r.cells[2].textContent.trim()]),
		edges: rows('tr.edge', r => [r.dataset.source, r.dataset.destination, r.dataset.records, r.dataset.bytes]),
		unused: q('#unused').dataset.total,
		wouldBreak: q('#audit') ? q('#audit').dataset.wouldBreak : '',
		proposed: q('#recommend') ? q('#recommend').dataset.rulesProposed : '',
		ScrollWidth: document.documentElement.scrollWidth, ClientWidth: document.documentElement.clientWidth,
	};
})()`

// TestBrowser opens the sample's report (with audit and recommend summaries) in headless Chromium, fails on
// any console error, JavaScript exception or request other than the page itself, reads the numbers the page
// shows and compares them with the database's, and saves a screenshot: under $FLOWLENS_ARTIFACTS, else in a
// temporary directory named in the log. Without Chromium it is skipped, except when CI=true.
func TestBrowser(t *testing.T) {
	dbPath := copyDB(t, shopDB(t))
	addSummaries(t, dbPath)
	r := build(t, dbPath, 10)
	page := filepath.Join(t.TempDir(), "report.html")
	if _, err := WriteFiles(context.Background(), Options{DB: dbPath, Top: 10}, page, ""); err != nil {
		t.Fatal(err)
	}
	got, problems, png := browse[pageFigures](t, page, readFigures)
	saveArtifact(t, "report-shop.png", png)
	for _, p := range problems {
		t.Error(p)
	}

	// The numbers shown are the database's.
	db := openRO(t, dbPath)
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	want := pageFigures{
		Records:      itoa(scalar(t, db, `SELECT count(*) FROM flows`)),
		RecordsText:  human.Count(scalar(t, db, `SELECT count(*) FROM flows`)),
		Agreed:       itoa(scalar(t, db, `SELECT count(*) FROM flows WHERE model_agrees`)),
		Compared:     itoa(scalar(t, db, `SELECT count(*) FROM flows WHERE model_action IS NOT NULL AND action IS NOT NULL`)),
		LoggedReject: itoa(scalar(t, db, `SELECT count(*) FROM flows WHERE action = 'REJECT'`)),
		Timeline:     itoa(scalar(t, db, `SELECT count(*) FROM flows WHERE action = 'REJECT' OR model_action = 'REJECT'`)),
		Unused:       itoa(scalar(t, db, `SELECT count(*) FROM unused_rules`)),
		WouldBreak:   itoa(scalar(t, db, `SELECT would_break_records FROM audit_summary`)),
		Proposed:     itoa(scalar(t, db, `SELECT rules_proposed FROM recommend_summary`)),
		ScrollWidth:  got.ClientWidth, ClientWidth: got.ClientWidth,
	}
	for _, c := range []struct {
		rows  *[][]string
		query string
	}{
		{&want.Ports, `SELECT key, n::VARCHAR, n::VARCHAR FROM (` + results.RejectedPorts + `) ORDER BY n DESC, key LIMIT 10`},
		{&want.Peers, `SELECT coalesce(key, ''), n::VARCHAR, n::VARCHAR FROM (` + results.RejectedPeers + `) ORDER BY n DESC, key LIMIT 10`},
		{&want.Edges, `SELECT source, destination, sum(records)::VARCHAR, sum(bytes)::VARCHAR FROM group_edges
			GROUP BY ALL ORDER BY sum(bytes) DESC, sum(records) DESC, source, destination LIMIT 10`},
		{&want.Rects, `SELECT strftime(make_timestamp((start // ` + itoa(int64(r.Timeline.Bucket.Seconds())) + ` * ` +
			itoa(int64(r.Timeline.Bucket.Seconds())) + `) * 1000000), '%Y-%m-%dT%H:%M:%SZ') AS bucket,
			CASE WHEN verdict_layer IS NULL THEN 'log only' ELSE verdict_layer::VARCHAR END || ': ' || verdict_cause::VARCHAR AS series,
			count(*)::VARCHAR FROM flows WHERE action = 'REJECT' OR model_action = 'REJECT' GROUP BY ALL`},
	} {
		*c.rows = stringRows(t, db, c.query)
	}
	for _, rows := range [][][]string{want.Ports, want.Peers} {
		for _, row := range rows { // the count as shown
			n, _ := strconv.ParseInt(row[2], 10, 64)
			row[2] = human.Count(n)
		}
	}
	// The chart's rectangles are in series order within a bucket; compare them as sets.
	sortRows(got.Rects)
	sortRows(want.Rects)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("page figures (-database +page):\n%s", diff)
	}
	if len(got.Ports) == 0 || len(got.Edges) == 0 || len(got.Rects) == 0 {
		t.Errorf("the page shows %d ports, %d edges, %d bars", len(got.Ports), len(got.Edges), len(got.Rects))
	}
}

// stringRows runs a query whose columns are all text and returns its rows.
func stringRows(t *testing.T, db *sql.DB, query string) [][]string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		row := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sortRows(rows [][]string) {
	slices.SortFunc(rows, func(a, b []string) int { return slices.Compare(a, b) })
}

// saveArtifact writes a test's output file under $FLOWLENS_ARTIFACTS (created if missing), else in a new
// temporary directory, and logs where.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("FLOWLENS_ARTIFACTS")
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", "flowlens-artifacts-")
	} else {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", filepath.Join(dir, name))
}

// browse opens the file page in a new headless Chromium (fresh profile, no background networking), evaluates
// expr once the page has loaded and returns its value, the problems seen (console errors, exceptions,
// error log entries, any request other than the page's own and failed loads) and a full-page PNG screenshot.
func browse[T any](t *testing.T, page, expr string) (T, []string, []byte) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no Chromium (%v): .ci/run installs it (apt-get install chromium)", err)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium)", chromiumPath)
	}
	pageURL := (&url.URL{Scheme: "file", Path: page}).String()
	var mu sync.Mutex
	var problems []string
	problem := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromiumPath), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 900))
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				problem("console %s: %v", ev.Type, ev.Args)
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := ""
			if d.Exception != nil {
				desc = d.Exception.Description
			}
			problem("exception: %s %s (%s:%d)", d.Text, desc, d.URL, d.LineNumber+1)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				problem("log error (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if ev.Request.URL != pageURL {
				problem("request for %s", ev.Request.URL)
			}
		case *network.EventLoadingFailed:
			problem("loading failed: %s", ev.ErrorText)
		}
	}))
	defer cancelTab()
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return got, slices.Clone(problems), png
}

// TestBrowserCatches: browse reports what TestBrowser must fail on: a script error, console.error, a fetch of
// another file.
func TestBrowserCatches(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(page, []byte(`<!DOCTYPE html><html><head><title>bad</title></head><body>
<img src="missing.png"><script>console.error("boom"); undefinedFunction();</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, problems, _ := browse[int](t, page, "1")
	want := []string{"console error", "exception", "request for file://" + dir + "/missing.png"}
	for _, w := range want {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, w) }) {
			t.Errorf("no problem starting %q in %q", w, problems)
		}
	}
}
