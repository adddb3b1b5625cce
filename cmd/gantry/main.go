// Command gantry builds and moves container images without a Docker daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/pkg/sandbox"
	"github.com/gantry-build/gantry/pkg/userns"
)

func main() {
	if sandbox.IsChild() {
		sandbox.Init() // a RUN step's sandbox: never returns
	}
	// Without root: returns in a mapped user namespace, if the system grants ids.
	if err := userns.Enter(func(msg string) { fmt.Fprintln(os.Stderr, "gantry: "+msg) }); err != nil {
		printError(os.Stderr, nil, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile()
	root := newRootCommand()
	if executorMode(os.Args[0]) {
		// Invoked as kaniko's executor: its command line, unchanged.
		root.SetArgs(append([]string{"executor"}, os.Args[1:]...))
	}
	err := root.ExecuteContext(ctx)
	stopProfile()
	stop()
	var exit *sandbox.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.Code) // gantry run: the command's own exit code, its output said why
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		printError(os.Stderr, root, err)
		os.Exit(1)
	}
}

// startProfile writes a CPU profile to $GANTRY_CPUPROFILE, for the
// benchmarks in bench/ (go tool pprof gantry FILE).
func startProfile() func() {
	path := os.Getenv("GANTRY_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gantry: GANTRY_CPUPROFILE:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "gantry",
		Short:         "Build and move container images without a Docker daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", "", "local image store (default $GANTRY_ROOT, else $XDG_DATA_HOME/gantry)")
	f.BoolVar(&g.insecure, "insecure", false, "use plain HTTP for the registries of this call")
	f.StringVar(&g.progress, "progress", "auto", "progress output: auto, tty, plain, json or quiet")
	f.BoolVarP(&g.quiet, "quiet", "q", false, "print only the result")
	f.StringVar(&g.platform, "platform", "", "platform os/arch[/variant] of multi-platform images (default: this machine's)")
	f.IntVar(&g.jobs, "jobs", 4, "blobs transferred at once")
	root.AddCommand(
		newPullCommand(g), newPushCommand(g), newImagesCommand(g), newTagCommand(g), newRmiCommand(g),
		newPruneCommand(g), newInspectCommand(g), newSaveCommand(g), newLoadCommand(g),
		newLoginCommand(g), newLogoutCommand(g), newBuildCommand(g), newMutateCommand(g), newExportCommand(g), newDiffCommand(g), newImportCommand(g), newFromCommand(g), newRunCommand(g), newCpCommand(g), newConfigCommand(g), newCommitCommand(g), newPsCommand(g), newRmCommand(g),
		newExecutorCommand(g),
	)
	addVersion(root)
	addExamples(root)
	return root
}
