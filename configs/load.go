package configs

import "os"

// Options says where Load reads the configuration from.
type Options struct {
	// File is the YAML config file; empty means the file named by PGKEEP_CONFIG, or none.
	File string
	// Env is the environment in os.Environ form ("NAME=value"); nil means os.Environ().
	Env []string
	// Flags are the flags registered by Bind; nil means none.
	Flags *Flags
}

// Load builds the configuration: the defaults, overridden by the config file, then by the
// PGKEEP_* environment, then by the flags the user set. It then reads the secrets (each from its
// environment variable, else from its *-file), fills in what depends on other settings (the
// compression level), and validates the result. Every error it returns is a *Error.
func Load(opts Options) (*Config, error) {
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	c := Defaults()
	file := opts.File
	if file == "" {
		file = lookupEnv(env, EnvConfig)
	}
	if file != "" {
		if err := applyFile(c, file); err != nil {
			return nil, err
		}
	}
	if err := applyEnv(c, env); err != nil {
		return nil, err
	}
	if err := opts.Flags.apply(c); err != nil {
		return nil, err
	}
	if err := resolveSecrets(c); err != nil {
		return nil, err
	}
	c.complete()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
