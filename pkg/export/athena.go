package export

import (
	"fmt"
	"strings"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/shard"
)

// Location is the placeholder athena.sql gives for where the export's directory was copied.
const Location = "s3://YOUR-BUCKET/prefix/"

// athenaSQL renders the DDL of the exported tables: one CREATE EXTERNAL TABLE each (names and types of the
// files' columns, then the partition columns of the paths), how to load the partitions (MSCK REPAIR TABLE),
// and partition projection for flows as an alternative. firstDate is the first date partition of flows (""
// when none), used in the projection's range.
func athenaSQL(tables []tableDDL, spec shard.Spec, firstDate string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `-- Athena (engine v3) tables over a flowlens export.
-- 1. Copy the export's directory to S3, e.g.: aws s3 cp --recursive DIR %s
--    (exports of several shards or runs may share the prefix: their file names differ).
-- 2. Replace %s below with that prefix and run each statement.
-- 3. Load the partitions after each copy: MSCK REPAIR TABLE <table>; (or use partition projection, below).
-- Columns are quoted with backticks: date, hour, start and end are reserved words (in queries, quote them
-- with double quotes: "date", "end").
`, Location, Location)
	if spec.Sharded() {
		fmt.Fprintf(&b, "-- This export is shard %s: its files are under shard=%d/; the other shards' exports add theirs.\n", spec, spec.Index)
	}
	for _, t := range tables {
		fmt.Fprintf(&b, "\nCREATE EXTERNAL TABLE IF NOT EXISTS `%s` (\n", t.athena)
		for i, c := range t.columns {
			sep := ","
			if i == len(t.columns)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "  `%s` %s%s\n", c.name, c.athena, sep)
		}
		b.WriteString(")\n")
		if len(t.partitions) > 0 {
			parts := make([]string, len(t.partitions))
			for i, p := range t.partitions {
				parts[i] = fmt.Sprintf("`%s` %s", p.name, p.athena)
			}
			fmt.Fprintf(&b, "PARTITIONED BY (%s)\n", strings.Join(parts, ", "))
		}
		fmt.Fprintf(&b, "STORED AS PARQUET\nLOCATION '%s%s/';\n", Location, t.path)
		if len(t.partitions) > 0 {
			fmt.Fprintf(&b, "MSCK REPAIR TABLE `%s`;\n", t.athena)
		}
		if t.name == flowschema.FlowsView {
			b.WriteString(projection(t, spec, firstDate))
		}
	}
	return b.String()
}

// projection is the partition projection of flows, as a commented ALTER TABLE: Athena then computes the
// partitions from the query's filter, and MSCK REPAIR TABLE is not needed.
func projection(t tableDDL, spec shard.Spec, firstDate string) string {
	if firstDate == "" {
		firstDate = "2026-01-01"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `-- Or, instead of MSCK REPAIR TABLE, partition projection (set the date range's start to your first day):
-- ALTER TABLE `+"`%s`"+` SET TBLPROPERTIES (
--   'projection.enabled' = 'true',
`, t.athena)
	if spec.Sharded() {
		fmt.Fprintf(&b, "--   'projection.shard.type' = 'integer', 'projection.shard.range' = '0,%d',\n", spec.Count-1)
	}
	fmt.Fprintf(&b, `--   'projection.date.type' = 'date', 'projection.date.format' = 'yyyy-MM-dd', 'projection.date.range' = '%s,NOW',
--   'projection.hour.type' = 'integer', 'projection.hour.range' = '0,23', 'projection.hour.digits' = '2',
`, firstDate)
	tmpl := Location + t.path + "/"
	for _, p := range t.partitions {
		tmpl += p.name + "=${" + p.name + "}/"
	}
	fmt.Fprintf(&b, "--   'storage.location.template' = '%s');\n", tmpl)
	return b.String()
}
