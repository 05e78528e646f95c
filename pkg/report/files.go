package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFiles builds the report of opts.DB and writes the page to htmlPath and, when dotPath is not "", the
// graph to dotPath. Each file is written whole or not at all: rendered in memory, written beside its path and
// renamed onto it.
func WriteFiles(ctx context.Context, opts Options, htmlPath, dotPath string) (*Report, error) {
	r, err := Build(ctx, opts)
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, r); err != nil {
		return nil, err
	}
	if err := writeFile(htmlPath, page.Bytes()); err != nil {
		return nil, err
	}
	if dotPath != "" {
		var dot bytes.Buffer
		if err := WriteDOT(&dot, r); err != nil {
			return nil, err
		}
		if err := writeFile(dotPath, dot.Bytes()); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// writeFile writes data to a temporary file in path's directory and renames it onto path.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
