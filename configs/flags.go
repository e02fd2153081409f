package configs

import (
	"strings"

	"github.com/spf13/pflag"
)

// flagAliases are the flags whose name is not the key with '.' as '-'.
var flagAliases = map[string]string{"pg.data": "pgdata"}

// flagName returns the flag of the setting key, without the leading "--".
func flagName(key string) string {
	if name, ok := flagAliases[key]; ok {
		return name
	}
	return strings.ReplaceAll(key, ".", "-")
}

// Flags is the set of config flags registered on a flag set by Bind. Load applies the ones the
// user set over the environment.
type Flags struct {
	values []*flagValue
}

// flagValue is the pflag.Value of one config flag. It keeps the text it was given; Load parses
// it, so that a bad value is a *Error like one from the file or the environment.
type flagValue struct {
	leaf *leaf
	fs   *pflag.FlagSet // where the flag is registered
	name string
	def  string   // the default, shown in help
	args []string // every value given, in order
}

// Bind registers the flags for the given config keys on fs (names: key path with '.' -> '-',
// except the aliases below) and returns a Flags value that Load applies over env.
//
// The alias is --pgdata for pg.data. List settings take comma-separated values, and a repeated
// flag adds to the list. Bind panics on a key that is not a setting or is a secret: secrets are
// never given on the command line.
func Bind(fs *pflag.FlagSet, keys ...string) *Flags {
	f := &Flags{}
	defaults := Defaults()
	for _, key := range keys {
		l := flagLeaf(key)
		f.add(fs, l, flagName(key), l.usage, defaults)
	}
	return f
}

// Alias registers name on fs (a command's own flags) as one more flag for
// the setting key, described by usage; Load applies it like the key's own
// flag, after it. It panics like Bind.
func (f *Flags) Alias(fs *pflag.FlagSet, name, key, usage string) {
	f.add(fs, flagLeaf(key), name, usage, Defaults())
}

// flagLeaf is the setting key, which may have a flag; it panics on a key
// that is not a setting or is a secret.
func flagLeaf(key string) *leaf {
	l := settings.byKey[key]
	if l == nil || l.kind == kindSecret {
		panic("configs: no flag for " + key)
	}
	return l
}

func (f *Flags) add(fs *pflag.FlagSet, l *leaf, name, usage string, defaults *Config) {
	v := &flagValue{leaf: l, fs: fs, name: name, def: l.text(defaults)}
	flag := fs.VarPF(v, v.name, "", usage)
	if l.kind == kindBool {
		flag.NoOptDefVal = "true"
	}
	f.values = append(f.values, v)
}

// apply sets in c the settings whose flags were given.
func (f *Flags) apply(c *Config) error {
	if f == nil {
		return nil
	}
	for _, v := range f.values {
		if !v.fs.Changed(v.name) || len(v.args) == 0 {
			continue
		}
		s := v.args[len(v.args)-1]
		if v.leaf.kind == kindList || v.leaf.kind == kindMap {
			s = strings.Join(v.args, ",")
		}
		if err := v.leaf.setText(c, s); err != nil {
			return keyError("flag --"+v.name, 0, v.leaf.key, err)
		}
	}
	return nil
}

// String returns the value given last, or the default.
func (v *flagValue) String() string {
	if len(v.args) == 0 {
		return v.def
	}
	if v.leaf.kind == kindList || v.leaf.kind == kindMap {
		return strings.Join(v.args, ",")
	}
	return v.args[len(v.args)-1]
}

// Set records a value given on the command line.
func (v *flagValue) Set(s string) error {
	v.args = append(v.args, s)
	return nil
}

// Type names the kind of value in help.
func (v *flagValue) Type() string {
	return [...]string{
		kindString:   "string",
		kindInt:      "int",
		kindBool:     "bool",
		kindDuration: "duration",
		kindList:     "strings",
		kindMap:      "name=value",
	}[v.leaf.kind]
}
