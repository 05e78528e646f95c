package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Files of killed runs.
//
// A write into a new file builds it as PATH.tmp-PID-RANDOM (with DuckDB's PATH.tmp-PID-RANDOM.wal and, when it
// spills, the directory PATH.tmp-PID-RANDOM.tmp) and renames it onto PATH. A run killed with SIGKILL (or a
// machine that stopped) cannot remove them, so every write first removes those of PATH whose process is no
// longer running, and says so (Run.Log). A process id reused by a later process only keeps the files until
// that process ends too; files of processes on other machines sharing the directory look dead here, so do
// not point two machines' flowlens at one file. Names without a process id (written before flowlens named
// them so) are left alone.

// tempName returns a new temporary name beside path, carrying this process's id.
func tempName(path string) (string, error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	return path + ".tmp-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:]), nil
}

// removeLeftovers removes the temporary files of path (see tempName) left by processes that are gone and
// returns one message per temporary file removed.
func removeLeftovers(path string) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	prefix := base + ".tmp-"
	byTemp := map[string][]string{} // temporary file name -> names removed
	pids := map[string]int{}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidText, random, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || len(random) < 12 || processRunning(pid) {
			continue
		}
		temp := prefix + pidText + "-" + random[:12]
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err == nil {
			byTemp[temp] = append(byTemp[temp], e.Name())
			pids[temp] = pid
		}
	}
	var msgs []string
	for temp, names := range byTemp {
		sort.Strings(names)
		msgs = append(msgs, fmt.Sprintf("removed %s, left by an earlier run (process %d, no longer running)",
			strings.Join(names, ", "), pids[temp]))
	}
	sort.Strings(msgs)
	return msgs
}
