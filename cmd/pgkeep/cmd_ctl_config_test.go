package main

import (
	"reflect"
	"testing"
)

func TestParseSets(t *testing.T) {
	got, err := parseSets([]string{"loop_wait=2", "pause=true", "postgresql.parameters.work_mem=8MB", "x=null", `name="q"`})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"loop_wait": 2.0, "pause": true, "x": nil, "name": "q",
		"postgresql": map[string]any{"parameters": map[string]any{"work_mem": "8MB"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("patch %v, want %v", got, want)
	}
	for _, bad := range [][]string{nil, {"novalue"}, {"=1"}} {
		if _, err := parseSets(bad); err == nil {
			t.Errorf("parseSets(%q) accepted", bad)
		}
	}
}
