package repo

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestQuickSumJSON(t *testing.T) {
	p := Part{Size: 3, Quick: QuickSumOf([]byte("abc"))}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"xxh3":"`+p.Quick.String()+`"`) {
		t.Fatalf("marshalled part %s lacks its xxh3", b)
	}
	var back Part
	if err := json.Unmarshal(b, &back); err != nil || back != p {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	// A part of an earlier version's manifest has none, and writes none.
	var old Part
	if err := json.Unmarshal([]byte(`{"offset":0,"size":3,"label":"x"}`), &old); err != nil || !old.Quick.IsZero() {
		t.Fatalf("part without xxh3: %+v %v", old, err)
	}
	if b, _ := json.Marshal(old); strings.Contains(string(b), "xxh3") {
		t.Fatalf("zero xxh3 written: %s", b)
	}
	if err := json.Unmarshal([]byte(`{"xxh3":"abcd"}`), &old); err == nil || !strings.Contains(err.Error(), "32 hex digits") {
		t.Fatalf("short xxh3: %v", err)
	}
	// The streaming hasher agrees with the one-shot sum.
	q := NewQuickHasher()
	q.Write([]byte("a"))
	q.Write([]byte("bc"))
	if q.Sum() != p.Quick {
		t.Fatalf("streamed %s, one-shot %s", q.Sum(), p.Quick)
	}
}
