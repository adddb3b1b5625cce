package main

import (
	"reflect"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// A repeatable flag takes each use as one value, commas and all, as
// pflag's StringArray does.
func TestStringListTakesEachUseWhole(t *testing.T) {
	f := pflag.NewFlagSet("t", pflag.ContinueOnError)
	got := []string{"left from before"}
	stringArrayVarP(f, &got, "label", "l", "label KEY=VALUE")
	if got != nil {
		t.Errorf("before parsing: %q, want none", got)
	}
	if err := f.Parse([]string{"--label", "a=1", "-l", "b=2,c=3", "--label=d"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=1", "b=2,c=3", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if def := f.Lookup("label").DefValue; def != "" {
		t.Errorf("default %q shown in help, want none", def)
	}
}

// No command's flags are pflag's StringArray, whose definition makes a
// CSV writer (4 KiB) per flag at every start.
func TestNoFlagIsPflagsStringArray(t *testing.T) {
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if _, ours := f.Value.(*stringList); f.Value.Type() == "stringArray" && !ours {
					t.Errorf("%s --%s is pflag's StringArray: define it with stringArrayVar", c.CommandPath(), f.Name)
				}
			})
		}
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(newRootCommand())
}
