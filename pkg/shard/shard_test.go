package shard

import (
	"hash/crc32"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Spec
		wantErr  bool
	}{
		{name: "first", in: "0/1", want: Spec{0, 1}},
		{name: "last", in: "6/7", want: Spec{6, 7}},
		{name: "index-too-big", in: "7/7", wantErr: true},
		{name: "negative", in: "-1/3", wantErr: true},
		{name: "zero-count", in: "0/0", wantErr: true},
		{name: "no-slash", in: "3", wantErr: true},
		{name: "not-numbers", in: "a/b", wantErr: true},
		{name: "spaces", in: " 1/3", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse(%q) error %v, want error %t", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if err == nil && got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

// TestOf pins the function to CRC-32 IEEE, whose check value (of "123456789") is 0xCBF43926: the engines'
// crc32 functions compute this one.
func TestOf(t *testing.T) {
	if got := crc32.ChecksumIEEE([]byte("123456789")); got != 0xCBF43926 {
		t.Fatalf("CRC-32 check value %#x, want 0xCBF43926", got)
	}
	for _, tc := range []struct {
		name, id string
		count    int
		want     int
	}{
		{name: "check-value", id: "123456789", count: 1000, want: 0xCBF43926 % 1000},
		{name: "eni", id: "eni-0a1b2c3d4e5f64001", count: 7, want: 1366466650 % 7},
		{name: "no-interface", id: "", count: 7, want: 0},
		{name: "one-shard", id: "eni-0a1b2c3d4e5f64001", count: 1, want: 0},
		{name: "utf8-bytes", id: "é", count: 1 << 30, want: 235179326 % (1 << 30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Of(tc.id, tc.count); got != tc.want {
				t.Errorf("Of(%q, %d) = %d, want %d", tc.id, tc.count, got, tc.want)
			}
		})
	}
}

func TestHas(t *testing.T) {
	ids := []string{"", "eni-1", "eni-2", "eni-0a1b2c3d4e5f64001", "eni-0a1b2c3d4e5f64002", "eni-ffffffff"}
	for _, n := range []int{1, 3, 7} {
		for _, id := range ids {
			owners := 0
			for i := 0; i < n; i++ {
				if (Spec{Index: i, Count: n}).Has(id) {
					owners++
				}
			}
			if owners != 1 {
				t.Errorf("%q is in %d of %d shards, want 1", id, owners, n)
			}
		}
	}
	if !(Spec{}).Has("eni-1") {
		t.Error("the zero Spec must hold every interface")
	}
}

func TestSQL(t *testing.T) {
	for _, tc := range []struct{ engine, want string }{
		{Athena, "crc32(to_utf8(coalesce(interface_id, ''))) % 16"},
		{Spark, "crc32(coalesce(interface_id, '')) % 16"},
		{DuckDB, "flowlens_crc32(interface_id) % 16"},
	} {
		if got := SQL(tc.engine, "interface_id", 16); got != tc.want {
			t.Errorf("SQL(%s) = %q, want %q", tc.engine, got, tc.want)
		}
	}
}
