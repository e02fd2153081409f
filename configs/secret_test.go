package configs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	if s.Reveal() != "hunter2" {
		t.Fatalf("Reveal() = %q", s.Reveal())
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-8v", "%T"} {
		got := fmt.Sprintf(verb, s)
		if strings.Contains(got, "hunter2") || strings.Contains(got, fmt.Sprintf("%x", "hunter2")) {
			t.Errorf("Sprintf(%s) = %q", verb, got)
		}
	}
	if s.String() != "***" || s.GoString() != "***" || fmt.Sprint(s) != "***" || fmt.Sprintf("%q", s) != `"***"` {
		t.Errorf("String %q GoString %q Sprint %q", s.String(), s.GoString(), fmt.Sprint(s))
	}
	if b, _ := json.Marshal(s); string(b) != `"***"` {
		t.Errorf("json %s", b)
	}
	if b, _ := yaml.Marshal(s); string(b) != "'***'\n" {
		t.Errorf("yaml %q", b)
	}
	if b, _ := s.MarshalText(); string(b) != "***" {
		t.Errorf("text %q", b)
	}
}

// secretValues are the secrets of loadAllSecrets; none may appear in any output.
var secretValues = []string{"cipher-from-file", "azure-key-from-env", "sas-from-file", "conn-from-file"}

// loadAllSecrets loads a configuration in which every secret is set, from files and environment.
func loadAllSecrets(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := file("pgkeep.yaml", fmt.Sprintf("repo:\n  path: /srv\n  cipher-pass-file: %s\n  azure:\n    key-file: %s\n    sas-file: %s\n    connection-string-file: %s\n",
		file("cipher", "cipher-from-file\n"), file("key", "azure-key-from-file\n"),
		file("sas", "sas-from-file\r\n"), file("conn", "conn-from-file")))
	c := mustLoad(t, Options{File: cfg, Env: []string{"PGKEEP_REPO_AZURE_KEY=azure-key-from-env"}})
	got := []string{c.Repo.CipherPass.Reveal(), c.Repo.Azure.Key.Reveal(), c.Repo.Azure.SAS.Reveal(), c.Repo.Azure.ConnectionString.Reveal()}
	if strings.Join(got, " ") != strings.Join(secretValues, " ") {
		t.Fatalf("secrets %q, want %q (the environment wins over the file; files are trimmed)", got, secretValues)
	}
	return c
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	c := loadAllSecrets(t)
	var logText, logJSON bytes.Buffer
	slog.New(slog.NewTextHandler(&logText, nil)).Info("loaded", "config", c, "value", *c, "repo", c.Repo)
	slog.New(slog.NewJSONHandler(&logJSON, nil)).Info("loaded", "config", c, "azure", c.Repo.Azure)
	jsonOut, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	yamlOut, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%+v of the value": fmt.Sprintf("%+v", *c), "%s": fmt.Sprintf("%s", c.Repo.Azure),
		"json": string(jsonOut), "yaml": string(yamlOut),
		"slog text": logText.String(), "slog json": logJSON.String(),
	}
	for name, out := range outputs {
		for _, secret := range secretValues {
			if strings.Contains(out, secret) {
				t.Errorf("%s output contains secret %q:\n%s", name, secret, out)
			}
		}
		if !strings.Contains(out, "***") {
			t.Errorf("%s output shows no redacted secret:\n%s", name, out)
		}
	}
}

func TestSecretFileErrors(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, "empty", "\n")
	tests := []struct {
		name string
		env  []string
		want string
		key  string
	}{
		{"missing", []string{"PGKEEP_REPO_CIPHER_PASS_FILE=/nope"},
			"repo.cipher-pass-file: open /nope: no such file or directory", "repo.cipher-pass-file"},
		{"directory", []string{"PGKEEP_REPO_AZURE_SAS_FILE=" + dir},
			"repo.azure.sas-file: read " + dir + ": is a directory", "repo.azure.sas-file"},
		{"empty", []string{"PGKEEP_REPO_AZURE_KEY_FILE=" + empty},
			"repo.azure.key-file: " + empty + " is empty", "repo.azure.key-file"},
		{"unread type", []string{"PGKEEP_REPO_AZURE_CONNECTION_STRING_FILE=/nope"},
			"repo.azure.connection-string-file: open /nope: no such file or directory", "repo.azure.connection-string-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Options{Env: baseEnv(tt.env...)})
			wantError(t, err, tt.want, tt.key)
		})
	}
}

func TestSecretEnvWinsOverUnreadableFile(t *testing.T) {
	c := mustLoad(t, Options{Env: baseEnv("PGKEEP_REPO_CIPHER_PASS_FILE=/nope", "PGKEEP_REPO_CIPHER_PASS=pw")})
	if c.Repo.CipherPass.Reveal() != "pw" {
		t.Errorf("cipher pass %q", c.Repo.CipherPass.Reveal())
	}
}
