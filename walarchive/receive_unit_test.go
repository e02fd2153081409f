package walarchive

import (
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

func TestFollowHistory(t *testing.T) {
	// Timeline 1 ended at 0/3000100, timeline 2 at 0/5000000; the server is on 3.
	hist := []repo.HistoryEntry{{Parent: 1, Switch: 0x3000100}, {Parent: 2, Switch: 0x5000000}}
	cases := []struct {
		name     string
		from     position
		want     position
		diverged bool
		err      string
	}{
		{"server's timeline", position{3, 0x6000000}, position{3, 0x6000000}, false, ""},
		{"before the switch: stream on", position{1, 0x2000000}, position{1, 0x2000000}, false, ""},
		{"at the switch", position{1, 0x3000100}, position{2, 0x3000100}, false, ""},
		{"past the switch", position{1, 0x3000200}, position{2, 0x3000100}, true, ""},
		{"past two switches", position{1, 0x5800000}, position{2, 0x3000100}, true, ""},
		{"middle timeline at its end", position{2, 0x5000000}, position{3, 0x5000000}, false, ""},
		{"unknown timeline", position{4, 0x1000000}, position{}, false, "older timeline 3"},
	}
	for _, c := range cases {
		got, diverged, err := followHistory(c.from, hist, 3)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want || diverged != c.diverged {
			t.Errorf("%s: followHistory(%+v) = %+v, diverged %v, %v; want %+v, diverged %v", c.name, c.from, got, diverged, err, c.want, c.diverged)
		}
	}
	if _, _, err := followHistory(position{2, 0x1000000}, hist[:1], 3); err == nil {
		t.Error("a timeline missing from the history must be refused")
	}
	if tli := timelineAt(hist, 0x3000000, 3); tli != 1 {
		t.Errorf("timelineAt(0/3000000) = %d, want 1", tli)
	}
	if tli := timelineAt(hist, 0x5000000, 3); tli != 3 {
		t.Errorf("timelineAt(0/5000000) = %d, want 3", tli)
	}
}

func TestNewReceiverChecksOptions(t *testing.T) {
	r, c, dir := setup(t)
	ok := ReceiverOptions{Repo: r, Cluster: c, SpoolDir: dir}
	if rc, err := NewReceiver(ok); err != nil || rc.o.Slot != "pgkeep" || rc.o.ApplicationName != "pgkeep" ||
		rc.o.PartialInterval == 0 || rc.o.StatusInterval == 0 {
		t.Fatalf("defaults: %+v, %v", rc, err)
	}
	bad := map[string]func(o *ReceiverOptions){
		"no repository": func(o *ReceiverOptions) { o.Repo = nil },
		"no spool":      func(o *ReceiverOptions) { o.SpoolDir = "" },
		"slot name":     func(o *ReceiverOptions) { o.Slot = "x; DROP" },
		"interval":      func(o *ReceiverOptions) { o.StatusInterval = -1 },
	}
	for what, change := range bad {
		o := ok
		change(&o)
		if _, err := NewReceiver(o); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
}

func TestSpoolStateAndLock(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	if _, err := openSpool(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second receiver on the spool: %v", err)
	}
	if _, _, ok, err := sp.readState(); ok || err != nil {
		t.Fatalf("empty spool has a state: %v %v", ok, err)
	}
	if err := sp.writeState(42, 3, 0x1234567); err != nil {
		t.Fatal(err)
	}
	st, lsn, ok, err := sp.readState()
	if err != nil || !ok || st.SystemID != 42 || st.Timeline != 3 || lsn != pg.LSN(0x1234567) {
		t.Fatalf("state %+v at %s, %v %v", st, lsn, ok, err)
	}
	for _, name := range []string{"000000020000000000000003", "00000002.history", "000000010000000000000009.partial", "junk"} {
		write(t, dir, name, []byte("x"))
	}
	files, err := sp.walFiles()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, " "); got != "000000010000000000000009.partial 00000002.history 000000020000000000000003" {
		t.Errorf("spool files in upload order: %s", got)
	}
}
