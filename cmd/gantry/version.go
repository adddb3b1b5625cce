package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is gantry's release, set when building one:
// go build -ldflags "-X main.version=v1.2.3" ./cmd/gantry
var version = "dev"

// commitOf is the source revision the binary was built from, as the go
// command records it (vcs.revision, "+dirty" for uncommitted changes), or
// "unknown" (a build with -buildvcs=false or outside a repository).
func commitOf(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}

func commit() string { return commitOf(debug.ReadBuildInfo()) }

// addVersion gives root --version (one line, as docker --version) and the
// version verb (one fact a line, as docker version).
func addVersion(root *cobra.Command) {
	root.Version = version
	root.SetVersionTemplate(fmt.Sprintf("gantry version {{.Version}}, commit %s, %s\n", shortCommit(commit()), runtime.Version()))
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Show gantry's version, the commit it was built from and its Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeVersion(cmd.OutOrStdout())
		},
	})
}

func writeVersion(w io.Writer) error {
	_, err := fmt.Fprintf(w, "Version:    %s\nCommit:     %s\nGo version: %s\nOS/Arch:    %s/%s\n",
		version, commit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

func shortCommit(c string) string {
	if len(c) > 12 && c != "unknown" {
		dirty := ""
		if len(c) > 6 && c[len(c)-6:] == "+dirty" {
			dirty = "+dirty"
		}
		return c[:12] + dirty
	}
	return c
}
