package configs

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kind is the type of a setting's value, which decides how its text is parsed.
type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindDuration
	kindList // []string; comma-separated as text
	kindSecret
	kindMap // map[string]string; "k=v,k=v" as text
)

// want describes what a setting of the kind takes, for error messages.
func (k kind) want() string {
	return [...]string{
		kindString:   "a string",
		kindInt:      "an integer",
		kindBool:     "true or false",
		kindDuration: "a duration such as 60s or 5m",
		kindList:     "a list",
		kindSecret:   "a secret",
		kindMap:      "a mapping of names to values (name=value,...)",
	}[k]
}

// leaf is one setting: a field of Config that holds a value.
type leaf struct {
	key   string // the yaml names from the root, joined by ".": "repo.azure.account"
	env   string // the environment variable: PGKEEP_REPO_AZURE_ACCOUNT
	index []int  // the field's index path from Config
	kind  kind
	usage string // the field's usage tag, for flag help
}

// fileSuffix ends the key of the setting that names the file a secret is read from: the secret
// "repo.cipher-pass" is read from the file "repo.cipher-pass-file".
const fileSuffix = "-file"

// schemaIndex is every setting of Config, found once by reflection over the yaml tags.
type schemaIndex struct {
	leaves   []*leaf          // in declaration order
	byKey    map[string]*leaf // by key
	byEnv    map[string]*leaf // by environment variable
	sections map[string]bool  // keys of nested structs: "repo", "repo.azure"
}

// settings is the index of Config; it is read-only after package initialisation.
var settings = newSchemaIndex(reflect.TypeFor[Config]())

func newSchemaIndex(t reflect.Type) *schemaIndex {
	s := &schemaIndex{byKey: map[string]*leaf{}, byEnv: map[string]*leaf{}, sections: map[string]bool{}}
	s.add(t, "", nil)
	for _, l := range s.leaves {
		if f := s.byKey[l.key+fileSuffix]; l.kind == kindSecret && (f == nil || f.kind != kindString) {
			panic("configs: secret " + l.key + " has no string setting " + l.key + fileSuffix)
		}
	}
	return s
}

// add indexes the fields of struct type t, whose key is prefix and index path is index.
func (s *schemaIndex) add(t reflect.Type, prefix string, index []int) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || strings.Contains(name, ".") {
			panic(fmt.Sprintf("configs: field %s.%s needs a yaml name", t.Name(), f.Name))
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		idx := append(slices.Clip(index), i)
		if f.Type.Kind() == reflect.Struct {
			s.sections[key] = true
			s.add(f.Type, key, idx)
			continue
		}
		l := &leaf{key: key, env: envName(key), index: idx, kind: kindOf(f.Type), usage: f.Tag.Get("usage")}
		if s.byEnv[l.env] != nil {
			panic("configs: settings " + s.byEnv[l.env].key + " and " + key + " share " + l.env)
		}
		s.leaves = append(s.leaves, l)
		s.byKey[key] = l
		s.byEnv[l.env] = l
	}
}

// kindOf returns the kind of a setting of type t.
func kindOf(t reflect.Type) kind {
	switch {
	case t == reflect.TypeFor[Secret]():
		return kindSecret
	case t == reflect.TypeFor[time.Duration]():
		return kindDuration
	case t.Kind() == reflect.String:
		return kindString
	case t.Kind() == reflect.Int:
		return kindInt
	case t.Kind() == reflect.Bool:
		return kindBool
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return kindList
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		return kindMap
	}
	panic("configs: settings of type " + t.String() + " are not supported")
}

// AllKeys returns the key of every setting but the secrets, in schema order.
func AllKeys() []string {
	var keys []string
	for _, l := range settings.leaves {
		if l.kind != kindSecret {
			keys = append(keys, l.key)
		}
	}
	return keys
}

// field returns the setting's field in c, settable.
func (l *leaf) field(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(l.index)
}

// setText parses s as the setting's value and sets it in c; a list is comma-separated.
func (l *leaf) setText(c *Config, s string) error {
	f := l.field(c)
	switch l.kind {
	case kindString, kindSecret:
		f.SetString(s)
	case kindInt:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want %s, got %q", l.kind.want(), s)
		}
		f.SetInt(int64(n))
	case kindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want %s, got %q", l.kind.want(), s)
		}
		f.SetBool(b)
	case kindDuration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("want %s, got %q", l.kind.want(), s)
		}
		f.SetInt(int64(d))
	case kindList:
		l.setList(c, strings.Split(s, ","))
	case kindMap:
		m := map[string]string{}
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			k, v, ok := strings.Cut(item, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return fmt.Errorf("want %s, got %q", l.kind.want(), item)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		l.setMap(c, m)
	}
	return nil
}

// setMap merges m into a map setting: later sources add and replace
// entries, they do not drop the others.
func (l *leaf) setMap(c *Config, m map[string]string) {
	f := l.field(c)
	merged := map[string]string{}
	for k, v := range f.Interface().(map[string]string) {
		merged[k] = v
	}
	for k, v := range m {
		merged[k] = v
	}
	f.Set(reflect.ValueOf(merged))
}

// setList sets a list setting to items, trimmed of spaces, without empty ones.
func (l *leaf) setList(c *Config, items []string) {
	list := []string{}
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			list = append(list, it)
		}
	}
	l.field(c).Set(reflect.ValueOf(list))
}

// text formats the setting's value in c as setText reads it.
func (l *leaf) text(c *Config) string {
	f := l.field(c)
	switch l.kind {
	case kindInt:
		return strconv.FormatInt(f.Int(), 10)
	case kindBool:
		return strconv.FormatBool(f.Bool())
	case kindDuration:
		return time.Duration(f.Int()).String()
	case kindList:
		return strings.Join(f.Interface().([]string), ",")
	case kindMap:
		m := f.Interface().(map[string]string)
		items := make([]string, 0, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			items = append(items, k+"="+m[k])
		}
		return strings.Join(items, ",")
	case kindSecret:
		return redacted
	}
	return f.String()
}
