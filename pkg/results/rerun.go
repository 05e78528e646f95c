package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// TopologyFiles is the topology_files table (flowschema.TopologyFilesTable): the JSON m was loaded from
// (vpc.Model.InputFiles), one row per file in name order. ok is false when m has none (a model from Clone).
func TopologyFiles(mem memory.Allocator, m *vpc.Model) (t Table, ok bool) {
	files := m.InputFiles()
	if files == nil {
		return Table{}, false
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: "file", Type: arrow.BinaryTypes.String},
		{Name: "content", Type: arrow.BinaryTypes.Binary},
	}, nil))
	defer b.Release()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		b.Field(0).(*array.StringBuilder).Append(name)
		b.Field(1).(*array.BinaryBuilder).Append(files[name])
	}
	return Table{Name: flowschema.TopologyFilesTable, Record: b.NewRecord()}, true
}

// Replay settings as stored (ReplaySettings, ReadRerun).
const (
	settingMaxTracked    = "max_tracked"
	settingReorderWindow = "reorder_window"
	settingMaxBuffered   = "max_buffered"
	settingHalfOpen      = "tcp_halfopen_timeout"
	settingClosing       = "tcp_closing_timeout"
	settingICMP          = "icmp_timeout"
	settingAdmit         = "admit"
)

// ReplaySettings is the replay_settings table (flowschema.ReplaySettingsTable) of cfg: setting, value.
func ReplaySettings(mem memory.Allocator, cfg replay.Config) Table {
	t := arrowutil.NewTable(mem, str("setting"), str("value"))
	admit := "logged"
	if cfg.Admit == replay.AdmitModel {
		admit = "model"
	}
	t.Row(settingMaxTracked, strconv.Itoa(cfg.MaxTracked))
	t.Row(settingReorderWindow, cfg.ReorderWindow.String())
	t.Row(settingMaxBuffered, strconv.Itoa(cfg.MaxBuffered))
	t.Row(settingHalfOpen, cfg.TCPHalfOpenTimeout.String())
	t.Row(settingClosing, cfg.TCPClosingTimeout.String())
	t.Row(settingICMP, cfg.ICMPTimeout.String())
	t.Row(settingAdmit, admit)
	return Table{Name: flowschema.ReplaySettingsTable, Record: t.Record()}
}

// ErrNoRerunInput is returned by ReadRerun for a file that lacks topology_files (written by ingest, or by an
// analyze older than that table).
var ErrNoRerunInput = errors.New("the database has no " + flowschema.TopologyFilesTable + " table: run analyze (of this version) on it first")

// ReadRerun reads what analyze stored to replay its flows again: the topology's JSON files and the replay
// configuration (Admit as stored; a setting that is missing keeps its zero value, the default).
func ReadRerun(ctx context.Context, db *sql.DB) (files map[string][]byte, cfg replay.Config, err error) {
	var n int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?`,
		flowschema.TopologyFilesTable).Scan(&n)
	if err != nil {
		return nil, cfg, err
	}
	if n == 0 {
		return nil, cfg, ErrNoRerunInput
	}
	rows, err := db.QueryContext(ctx, `SELECT file, content FROM `+flowschema.TopologyFilesTable)
	if err != nil {
		return nil, cfg, err
	}
	defer rows.Close()
	files = map[string][]byte{}
	for rows.Next() {
		var name string
		var content []byte
		if err := rows.Scan(&name, &content); err != nil {
			return nil, cfg, err
		}
		files[name] = content
	}
	if err := rows.Err(); err != nil {
		return nil, cfg, err
	}
	srows, err := db.QueryContext(ctx, `SELECT setting, value FROM `+flowschema.ReplaySettingsTable)
	if err != nil {
		return files, cfg, nil // settings are optional: the defaults
	}
	defer srows.Close()
	for srows.Next() {
		var k, v string
		if err := srows.Scan(&k, &v); err != nil {
			return nil, cfg, err
		}
		if err := setReplay(&cfg, k, v); err != nil {
			return nil, cfg, fmt.Errorf("%s: %s: %w", flowschema.ReplaySettingsTable, k, err)
		}
	}
	return files, cfg, srows.Err()
}

func setReplay(cfg *replay.Config, k, v string) error {
	var err error
	dur := func(d *time.Duration) { *d, err = time.ParseDuration(v) }
	num := func(n *int) { *n, err = strconv.Atoi(v) }
	switch k {
	case settingMaxTracked:
		num(&cfg.MaxTracked)
	case settingMaxBuffered:
		num(&cfg.MaxBuffered)
	case settingReorderWindow:
		dur(&cfg.ReorderWindow)
	case settingHalfOpen:
		dur(&cfg.TCPHalfOpenTimeout)
	case settingClosing:
		dur(&cfg.TCPClosingTimeout)
	case settingICMP:
		dur(&cfg.ICMPTimeout)
	case settingAdmit:
		if v == "model" {
			cfg.Admit = replay.AdmitModel
		}
	}
	return err
}
