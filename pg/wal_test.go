package pg

import "testing"

func TestWALNames(t *testing.T) {
	const seg16 = 16 << 20
	cases := []struct {
		name string
		kind WALKind
		tli  uint32
		no   uint64
	}{
		{"000000010000000000000001", KindSegment, 1, 1},
		{"0000000200000001000000FF", KindSegment, 2, 256 + 255},
		{"000000030000000A00000010.partial", KindPartial, 3, 10*256 + 16},
		{"000000010000000000000002.00000028.backup", KindBackupHistory, 1, 2},
		{"0000000A.history", KindHistory, 10, 0},
	}
	for _, c := range cases {
		w, err := ParseWALName(c.name)
		if err != nil || w.Kind != c.kind || w.Timeline != c.tli || (c.kind != KindHistory && w.SegNo(seg16) != c.no) {
			t.Errorf("%s: %+v %v", c.name, w, err)
		}
		if c.kind == KindSegment && SegmentName(c.tli, c.no, seg16) != c.name {
			t.Errorf("SegmentName(%d, %d) = %s", c.tli, c.no, SegmentName(c.tli, c.no, seg16))
		}
	}
	for _, bad := range []string{"", "00000001000000000000001", "000000010000000000000001.gz", "0000000000000000000000001", "00000000.history", "RECOVERYXLOG", "abcdef010000000000000001"} {
		if _, err := ParseWALName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// 64 MiB segments: 64 per log.
	if got := SegmentName(1, 64, 64<<20); got != "000000010000000100000000" {
		t.Errorf("64 MiB segment 64 = %s", got)
	}
	if got := SegmentOf(1, 0x1_0300_0000, seg16); got != "000000010000000100000003" {
		t.Errorf("SegmentOf = %s", got)
	}
}

func TestLSN(t *testing.T) {
	l, err := ParseLSN("16/B374D848")
	if err != nil || l != 0x16B374D848 || l.String() != "16/B374D848" {
		t.Fatalf("%v %v", l, err)
	}
	if _, err := ParseLSN("zz"); err == nil {
		t.Fatal("bad LSN accepted")
	}
}
