package basebackup

import (
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/pg"
)

func TestDiscoverParseConnURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want pg.ConnOptions
		err  string
	}{
		{url: "postgres://127.0.0.1:5433/postgres", want: pg.ConnOptions{Host: "127.0.0.1", Port: 5433, Database: "postgres"}},
		{url: "postgresql://replicator@db1.example:6432/app", want: pg.ConnOptions{Host: "db1.example", Port: 6432, User: "replicator", Database: "app"}},
		{url: "postgres://[::1]:5434/postgres", want: pg.ConnOptions{Host: "::1", Port: 5434, Database: "postgres"}},
		{url: "postgres://db1/postgres", want: pg.ConnOptions{Host: "db1", Port: 5432, Database: "postgres"}},
		{url: "postgres:///postgres?host=/var/run/postgresql&port=5435", want: pg.ConnOptions{Host: "/var/run/postgresql", Port: 5435, Database: "postgres"}},
		{url: "postgres://u@h:1/d?user=v&dbname=e", want: pg.ConnOptions{Host: "h", Port: 1, User: "v", Database: "e"}},
		{url: "", err: "no conn_url"},
		{url: "http://127.0.0.1:8008/patroni", err: "not a postgres:// URL"},
		{url: "postgres:///postgres", err: "no host"},
		{url: "postgres://h1:5432,h2:5433/postgres", err: "several hosts"},
		{url: "postgres://h:99999/postgres", err: "bad port"},
		{url: "postgres://u:secret@h:x/postgres", err: "conn_url"},
		{url: "postgres://h/postgres?password=secret&port=no", err: "bad port"},
	} {
		got, err := parseConnURL(tc.url)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseConnURL(%q) = %+v, %v; want an error containing %q", tc.url, got, err, tc.err)
			} else if strings.Contains(err.Error(), "secret") {
				t.Errorf("parseConnURL(%q): error shows the password: %v", tc.url, err)
			}
		case err != nil:
			t.Errorf("parseConnURL(%q): %v", tc.url, err)
		case got != tc.want:
			t.Errorf("parseConnURL(%q) = %+v, want %+v", tc.url, got, tc.want)
		}
	}
}

func TestDiscoverKeys(t *testing.T) {
	for _, tc := range []struct{ ns, want string }{
		{"", "/service/main/leader"},
		{"/service", "/service/main/leader"},
		{"/service/", "/service/main/leader"},
		{"/pg", "/pg/main/leader"},
		{"/", "/main/leader"},
	} {
		if got := newDCSKeys(tc.ns, "main").leader(); got != tc.want {
			t.Errorf("namespace %q: leader key %q, want %q", tc.ns, got, tc.want)
		}
	}
	if got, want := newDCSKeys("/service", "main").member("m1"), "/service/main/members/m1"; got != want {
		t.Errorf("member key %q, want %q", got, want)
	}
}

func TestDiscoverMemberSuitability(t *testing.T) {
	good := `{"conn_url":"postgres://127.0.0.1:5433/postgres","api_url":"http://127.0.0.1:8008/patroni",` +
		`"state":"running","role":"replica","xlog_location":50331816,"timeline":1}`
	m := parseMember("m2", []byte(good))
	if m.err != nil || m.Name != "m2" || m.XLogLoc != 50331816 || m.Timeline != 1 {
		t.Fatalf("parseMember = %+v", m)
	}
	for _, tc := range []struct {
		name, value, leader, err string
	}{
		{"replica", good, "m1", ""},
		{"leader", good, "m2", "holds the leader key"},
		{"primary", strings.Replace(good, `"replica"`, `"master"`, 1), "m1", `role "master"`},
		{"stopped", strings.Replace(good, `"running"`, `"stopped"`, 1), "m1", `state "stopped"`},
		{"not JSON", "conn_url=postgres://h/db", "m1", "not a Patroni member's JSON"},
	} {
		err := unsuitableMember(parseMember("m2", []byte(tc.value)), tc.leader)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: unsuitableMember = %v, want %q", tc.name, err, tc.err)
		}
	}
}
