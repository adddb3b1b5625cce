package main

import (
	"strings"

	"github.com/spf13/pflag"
)

// stringList is a repeatable string flag (--add, --label, -t, ...), taken
// as pflag's StringArray takes it: each use adds one value, none is split
// on commas, the first use replaces the default. It is gantry's own because
// pflag's prints every default through a CSV writer with a 4 KiB buffer:
// ~80 of them at each start, for help text seldom shown (1 ms of a 100 ms
// unchanged build).
type stringList struct {
	values *[]string
	set    bool
}

// stringArrayVar defines a repeatable --name.
func stringArrayVar(f *pflag.FlagSet, p *[]string, name, usage string) {
	stringArrayVarP(f, p, name, "", usage)
}

// stringArrayVarP defines a repeatable --name with the shorthand -short.
func stringArrayVarP(f *pflag.FlagSet, p *[]string, name, short, usage string) {
	*p = nil
	f.VarP(&stringList{values: p}, name, short, usage)
}

func (l *stringList) Set(v string) error {
	if !l.set {
		*l.values, l.set = nil, true
	}
	*l.values = append(*l.values, v)
	return nil
}

// String is the values as pflag's StringArray shows them, or "" when there
// are none: help text shows no default for it, as for an empty StringArray.
func (l *stringList) String() string {
	if len(*l.values) == 0 {
		return ""
	}
	return "[" + strings.Join(*l.values, ",") + "]"
}

func (l *stringList) Type() string { return "stringArray" }

// Append, Replace and GetSlice make it a pflag.SliceValue, as the
// StringArray is.
func (l *stringList) Append(v string) error { return l.Set(v) }

func (l *stringList) Replace(vs []string) error {
	*l.values, l.set = append([]string(nil), vs...), true
	return nil
}

func (l *stringList) GetSlice() []string { return *l.values }
