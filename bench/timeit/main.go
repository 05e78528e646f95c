// Command timeit runs a command and prints its wall time and peak resident set size, for bench/run.sh on
// machines without GNU time: "seconds max_rss_kib exit_status" on the last line of its stderr (the child's
// own output passes through).
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: timeit COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	secs := time.Since(start).Seconds()
	status := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		status = exitErr.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "timeit:", err)
		os.Exit(127)
	}
	var rssKiB int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rssKiB = ru.Maxrss // Linux reports KiB
	}
	fmt.Fprintf(os.Stderr, "%.2f %d %d\n", secs, rssKiB, status)
}
