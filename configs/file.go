package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// applyFile sets in c every setting of the YAML config file at path. The file is walked node by
// node against the schema, so that every error names the full key and its line.
func applyFile(c *Config, path string) error {
	source := "config " + path
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{Source: source, Msg: err.Error(), Err: err}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, more yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil
	} else if err != nil {
		return yamlError(source, err)
	}
	if err := dec.Decode(&more); err == nil {
		return &Error{Source: source, Line: more.Line, Msg: "more than one YAML document"}
	} else if !errors.Is(err, io.EOF) {
		return yamlError(source, err)
	}
	w := walker{source: source, c: c, seen: map[string]int{}}
	for _, n := range doc.Content {
		if err := w.section(n, ""); err != nil {
			return err
		}
	}
	return nil
}

// yamlLine matches the line number yaml.v3 puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError turns a YAML syntax error into an *Error with the line it names.
func yamlError(source string, err error) *Error {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	return &Error{Source: source, Line: line, Msg: oneLine(strings.TrimPrefix(msg, "yaml: ")), Err: err}
}

// walker sets the settings of one config file in c.
type walker struct {
	source string
	c      *Config
	seen   map[string]int // line of every key set so far
}

// section walks the mapping n of the section key ("" for the whole file).
func (w *walker) section(n *yaml.Node, key string) error {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return w.errorf(n, key, "want a mapping of settings, got %s", describe(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return w.errorf(k, key, "want a setting name, got %s", describe(k))
		}
		sub := k.Value
		if key != "" {
			sub = key + "." + k.Value
		}
		if first, dup := w.seen[sub]; dup {
			return w.errorf(k, sub, "set twice (first on line %d)", first)
		}
		w.seen[sub] = k.Line
		var err error
		switch l := settings.byKey[sub]; {
		case strings.Contains(k.Value, "."):
			err = w.unknown(k, sub)
		case settings.sections[sub]:
			err = w.section(v, sub)
		case l == nil:
			err = w.unknown(k, sub)
		case l.kind == kindSecret:
			err = w.errorf(k, sub, "secrets are not read from the config file; use %s or %s",
				l.key+fileSuffix, l.env)
		default:
			err = w.leaf(l, deref(v))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// leaf sets the setting l from its value node n.
func (w *walker) leaf(l *leaf, n *yaml.Node) error {
	var err error
	switch {
	case isNull(n):
		return nil // "key:" without a value leaves the setting as it is
	case n.Kind == yaml.ScalarNode:
		err = l.setText(w.c, n.Value)
	case n.Kind == yaml.SequenceNode && l.kind == kindList:
		items := make([]string, len(n.Content))
		for i, it := range n.Content {
			if it = deref(it); it.Kind != yaml.ScalarNode || isNull(it) {
				return w.errorf(it, l.key, "want a list of strings, got %s in it", describe(it))
			}
			items[i] = it.Value
		}
		l.setList(w.c, items)
	case n.Kind == yaml.MappingNode && l.kind == kindMap:
		m := map[string]string{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := deref(n.Content[i]), deref(n.Content[i+1])
			if v.Kind != yaml.ScalarNode || isNull(v) {
				return w.errorf(v, l.key, "want a value for %s, got %s", k.Value, describe(v))
			}
			m[k.Value] = v.Value
		}
		l.setMap(w.c, m)
	default:
		err = fmt.Errorf("want %s, got %s", l.kind.want(), describe(n))
	}
	if err != nil {
		return keyError(w.source, n.Line, l.key, err)
	}
	return nil
}

// errorf reports a problem of key at node n; key "" is the whole file.
func (w *walker) errorf(n *yaml.Node, key, format string, args ...any) *Error {
	if key == "" {
		return &Error{Source: w.source, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
	}
	return keyError(w.source, n.Line, key, fmt.Errorf(format, args...))
}

// unknown reports a key that is not a setting.
func (w *walker) unknown(k *yaml.Node, key string) *Error {
	return &Error{Source: w.source, Line: k.Line, Key: key, Msg: fmt.Sprintf("unknown key %q", key)}
}

// deref follows an alias (*name) to the node it stands for.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is YAML's null: "key:" with nothing after it, "~" or "null".
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what node n holds, for "want ..., got ..." messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}
