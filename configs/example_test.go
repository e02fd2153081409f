package configs

import (
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// examplePath is the annotated example configuration operators copy.
const examplePath = "pgkeep.yaml"

func TestExampleLoads(t *testing.T) {
	c, err := Load(Options{File: examplePath, Env: []string{}})
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	want := Defaults()
	want.Cluster = "main"
	want.Repo.Path = "/var/lib/pgkeep"
	want.Repo.CompressLevel = 3
	want.PG.Data = "/var/lib/postgresql/15/main"
	want.PG.Host = "/var/run/postgresql"
	want.Etcd.Endpoints = []string{"http://127.0.0.1:2379"}
	want.Archive.Timeout = 60 * time.Second
	want.Backup.ConfigFiles = []string{}
	want.Archive.SpoolPath = "/var/spool/pgkeep"
	want.Archive.QueueMaxMB = 4096
	want.Retention.Full = 2
	want.PG.Parameters = map[string]string{"shared_buffers": "256MB", "max_connections": "100"}
	want.HA.Name = "pg1"
	want.HA.PermanentSlots = []string{"pgkeep"}
	want.Server.Schedule = Schedule{Full: "0 1 * * 0", Diff: "0 1 * * 1-6", Incr: "0 * * * *", Verify: "30 3 * * *"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("example loads as\n%+v\nwant\n%+v", c, want)
	}
}

// TestExampleHasEveryKey keeps the example complete: it sets every setting but the secrets.
func TestExampleHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := prefix + n.Content[i].Value
			if n.Content[i+1].Kind == yaml.MappingNode && settings.byKey[key] == nil { // a section, not a map setting
				walk(n.Content[i+1], key+".")
				continue
			}
			got = append(got, key)
		}
	}
	walk(doc.Content[0], "")
	want := AllKeys()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the example sets\n%v\nwant every key\n%v", got, want)
	}
}
