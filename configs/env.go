package configs

import "strings"

// envPrefix starts the name of every environment variable pgkeep reads.
const envPrefix = "PGKEEP_"

// EnvConfig is the environment variable naming the config file when Options.File is empty.
const EnvConfig = envPrefix + "CONFIG"

// envTestPrefix is reserved for pgkeep's own test harness (PGKEEP_TEST_PGBIN,
// PGKEEP_TEST_AZURITE); pgkeep itself ignores these variables.
const envTestPrefix = envPrefix + "TEST_"

// envNames turns a key into the tail of its environment variable name.
var envNames = strings.NewReplacer(".", "_", "-", "_")

// envName returns the environment variable of the setting key: PGKEEP_ and the key upper-cased,
// with '.' and '-' as '_'.
func envName(key string) string {
	return envPrefix + strings.ToUpper(envNames.Replace(key))
}

// applyEnv sets in c every setting given by a PGKEEP_* variable in env ("NAME=value" entries).
// An empty value leaves the setting as it is. A PGKEEP_* variable that names no setting is an
// error, so that a misspelt variable does not go unnoticed.
func applyEnv(c *Config, env []string) error {
	for _, kv := range env {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || name == EnvConfig || strings.HasPrefix(name, envTestPrefix) {
			continue
		}
		source := "environment " + name
		l := settings.byEnv[name]
		if l == nil {
			return &Error{Source: source, Msg: "unknown setting"}
		}
		if val == "" {
			continue
		}
		if err := l.setText(c, val); err != nil {
			return keyError(source, 0, l.key, err)
		}
	}
	return nil
}

// lookupEnv returns the value of the last name entry in env.
func lookupEnv(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return ""
}
