// Command flowlens explains AWS VPC Flow Logs: which security group or network ACL rule
// accepted or rejected each flow, and which rules are really used.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/flowlens/flowlens/pkg/ingest"
	"github.com/flowlens/flowlens/pkg/store"
)

// Exit statuses a CI job can branch on.
const (
	exitOK       = 0 // the command did what was asked and found nothing to fail on
	exitError    = 1 // the command could not run: unreadable input, I/O error, ...
	exitUsage    = 2 // bad flags or arguments
	exitFindings = 3 // the command ran, but found what the user asked to fail on (--strict, fatal topology findings)
	// exitInterruptedWritten: interrupted (SIGINT, SIGTERM) after the database was written: the file is
	// complete, what the command would have printed after the write (the summary) is not.
	exitInterruptedWritten = 4
	// exitInterrupted: interrupted before the database was written: it was not changed (128+SIGINT, as a shell
	// reports a command that Ctrl-C stopped).
	exitInterrupted = 130
)

// command is one flowlens subcommand. run gets the arguments after the command name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cmdEnv, args []string) error
}

// cmdEnv carries the process's streams so commands can be tested in-process.
type cmdEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stderrIsTerminal enables progress output.
	stderrIsTerminal bool
	// onCommit, for tests, is called once a command's database write has committed (store.Run.OnCommit).
	onCommit func()
}

// commands lists the subcommands in the order --help shows them.
func commands() []*command {
	return []*command{
		ingestCommand(),
		analyzeCommand(),
		auditCommand(),
		recommendCommand(),
		explainCommand(),
		exportCommand(),
		reportCommand(),
		topologyCommand(),
		sqlCommand(),
	}
}

// exitError is returned by a command to choose the process exit status.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &statusError{status: exitUsage, err: fmt.Errorf(format, args...)}
}

func findingsErrorf(format string, args ...any) error {
	return &statusError{status: exitFindings, err: fmt.Errorf(format, args...)}
}

func main() {
	// FLOWLENS_CPUPROFILE=FILE writes a CPU profile of the run (for `go tool pprof`); FLOWLENS_MEMPROFILE=FILE
	// a heap profile when it ends (what is still live, and with -sample_index=alloc_space what was allocated).
	var cpu *os.File
	if path := os.Getenv("FLOWLENS_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "flowlens: FLOWLENS_CPUPROFILE: %v\n", err)
			os.Exit(exitError)
		}
		cpu = f
	}
	status := run()
	if cpu != nil {
		pprof.StopCPUProfile()
		cpu.Close()
	}
	if path := os.Getenv("FLOWLENS_MEMPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "flowlens: FLOWLENS_MEMPROFILE: %v\n", err)
		}
	}
	os.Exit(status)
}

// goMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT is set. Without it the heap of a long analyze
// grew to twice its live size between collections (671 MB for 156 MB live at 30M records) and, with DuckDB's
// share, peak RSS passed 1 GB; with it a 30M-record analyze peaks at 0.91 GB in the same time (21.3 against
// 22.4 s). A soft limit only makes the collector run earlier: a run that needs more still gets it.
const goMemoryLimit = 512 << 20

func run() int {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(goMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &cmdEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, stderrIsTerminal: isTerminal(os.Stderr)}
	defer stop()
	return runMain(ctx, env, os.Args[1:])
}

// runMain dispatches to a subcommand and maps its error to an exit status.
func runMain(ctx context.Context, env *cmdEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			return runMain(ctx, env, []string{args[1], "--help"})
		}
		printUsage(env.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintln(env.stdout, "flowlens", version)
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		return exitStatus(ctx, env, c.name, c.run(ctx, env, args[1:]))
	}
	fmt.Fprintf(env.stderr, "flowlens: unknown command %q\n\n", args[0])
	printUsage(env.stderr)
	return exitUsage
}

// storeRun is how a command's database write is recorded (flowlens_runs) and reports: what the write did
// besides its tables (removing a killed run's files) goes to stderr.
func storeRun(env *cmdEnv, name, cmdline string, started time.Time) store.Run {
	return store.Run{Command: cmdline, Started: started, OnCommit: env.onCommit,
		Log: func(msg string) { fmt.Fprintf(env.stderr, "flowlens %s: %s\n", name, msg) }}
}

// exitStatus reports a command's error on stderr and returns the exit status for it. After an interruption
// (ctx done) it says what is true of the database: complete (a *store.WrittenError) or not changed.
func exitStatus(ctx context.Context, env *cmdEnv, name string, err error) int {
	if err == nil || errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	var written *store.WrittenError
	isWritten := errors.As(err, &written)
	if ctx.Err() != nil {
		if isWritten {
			fmt.Fprintf(env.stderr, "flowlens %s: interrupted after the database was written: %s is complete\n", name, written.Path)
			return exitInterruptedWritten
		}
		msg := "interrupted"
		if errors.Is(err, store.ErrNotWritten) {
			msg += "; " + store.ErrNotWritten.Error()
		}
		if !errors.Is(err, context.Canceled) {
			msg += " (" + err.Error() + ")"
		}
		fmt.Fprintf(env.stderr, "flowlens %s: %s\n", name, msg)
		return exitInterrupted
	}
	fmt.Fprintf(env.stderr, "flowlens %s: %v\n", name, err)
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	return exitError
}

// version is set at link time with -ldflags "-X main.version=...".
var version = "dev"

func printUsage(w io.Writer) {
	fmt.Fprint(w, `flowlens explains AWS VPC Flow Logs against the VPC's security groups and network ACLs.

Usage:
  flowlens <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'flowlens <command> --help' for a command's flags.

Exit status: 0 success, 1 error, 2 usage error, 3 findings the user asked to fail on,
4 interrupted after the database was written (it is complete), 130 interrupted before (it was not changed).
`)
}

// newFlagSet returns a GNU-style flag set whose --help prints the command's usage.
// commandLine is how flowlens_runs records a command: "flowlens NAME ARGS...", as valid UTF-8 (a path may not
// be; DuckDB refuses such text).
func commandLine(name string, args []string) string {
	return ingest.EscapeUTF8(strings.Join(append([]string{"flowlens", name}, args...), " "))
}

// newFlagSet returns a command's flag set. Its --help prints usage, the flags (long descriptions wrapped; a
// `WORD` in backquotes in a flag's usage names its value, e.g. FILE, PATH, DURATION) and the examples, each a
// command line with an optional "# comment" line before it.
func newFlagSet(env *cmdEnv, name, usage string, examples ...string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("flowlens "+name, pflag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stdout, "Usage: flowlens %s\n\nFlags:\n%s", usage, fs.FlagUsagesWrapped(helpWidth))
		if len(examples) > 0 {
			fmt.Fprintf(env.stdout, "\nExamples:\n")
			for _, e := range examples {
				fmt.Fprintf(env.stdout, "  %s\n", e)
			}
		}
	}
	return fs
}

// helpWidth is the column --help wraps flag descriptions at.
const helpWidth = 110

// parseFlags parses args and turns a flag error into a usage error.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return &statusError{status: exitUsage, err: err}
	}
	return nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
