package pg

import (
	"strings"
	"testing"
)

func TestValidSlotName(t *testing.T) {
	for name, want := range map[string]bool{
		"pgkeep": true, "a_1": true, strings.Repeat("x", 63): true,
		"": false, strings.Repeat("x", 64): false, "Pgkeep": false, "pg-keep": false, "pg keep": false, "é": false,
	} {
		if got := ValidSlotName(name); got != want {
			t.Errorf("ValidSlotName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestValidClusterName(t *testing.T) {
	for name, want := range map[string]bool{
		"main": true, "demo-pitr": true, "a.b_c-d": true, "9x": true, "A": true, strings.Repeat("c", 63): true,
		"": false, "-x": false, ".x": false, "_x": false, "a/b": false, "a b": false, "é": false, strings.Repeat("c", 64): false,
	} {
		if got := ValidClusterName(name); got != want {
			t.Errorf("ValidClusterName(%q) = %v, want %v", name, got, want)
		}
	}
}
