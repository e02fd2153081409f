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
