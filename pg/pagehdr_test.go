package pg

import "testing"

// A header written with Put reads back the same, with the version of its
// magic; a page without the long-header flag or magic is refused.
func TestLongPageHeaderRoundTrip(t *testing.T) {
	w, err := ParseWALName("00000003000000010000002A")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int{13, 14, 15, 16, 17, 18} {
		h := SegmentHeader(w, 7716351414048090128, 16<<20, v)
		b := make([]byte, 8192)
		h.Put(b)
		got, err := ParseLongPageHeader(b)
		if err != nil || got != h || got.PGVersion() != v || got.PageAddr != LSN(0x1_2A000000) {
			t.Fatalf("PostgreSQL %d: read back %+v, %v; wrote %+v", v, got, err, h)
		}
	}
	b := make([]byte, 8192)
	if _, err := ParseLongPageHeader(b); err == nil {
		t.Fatal("a zero page parsed as a WAL header")
	}
	h := SegmentHeader(w, 1, 16<<20, 15)
	h.Info = 0
	h.Put(b)
	if _, err := ParseLongPageHeader(b); err == nil {
		t.Fatal("a page without the long-header flag parsed")
	}
}
