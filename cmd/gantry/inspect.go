package main

import (
	"fmt"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/pkg/inspect"
	"github.com/gantry-build/gantry/pkg/transfer"
)

func newInspectCommand(g *globals) *cobra.Command {
	var remote bool
	var raw, format string
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Show an image's manifest, config, layers and history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var tmpl *template.Template
			if format != "" && format != "text" && format != "json" {
				var err error
				if tmpl, err = inspect.ParseTemplate(format); err != nil {
					return err
				}
			}
			want, err := g.wantPlatform()
			if err != nil {
				return err
			}
			var view *transfer.View
			if remote {
				rc, err := g.registry()
				if err != nil {
					return err
				}
				view, err = transfer.InspectRemote(cmd.Context(), rc, args[0], want)
				if err != nil {
					return err
				}
			} else {
				st, err := g.store()
				if err != nil {
					return err
				}
				if view, err = transfer.InspectStored(st, args[0], want); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			switch raw {
			case "":
			case "manifest":
				b, err := view.Image.RawManifest()
				if err != nil {
					return err
				}
				_, err = out.Write(b)
				return err
			case "config":
				b, err := view.Image.RawConfigFile()
				if err != nil {
					return err
				}
				_, err = out.Write(b)
				return err
			case "index":
				if view.RawIndex == nil {
					return fmt.Errorf("%s is a single-platform image: it has no index", args[0])
				}
				_, err = out.Write(view.RawIndex)
				return err
			default:
				return fmt.Errorf("unknown --raw %q: use manifest, config or index", raw)
			}
			switch format {
			case "json":
				return view.Report.WriteJSON(out)
			case "", "text":
				return view.Report.WriteText(out)
			}
			return inspect.Execute(out, tmpl, view.Report.Docker())
		},
	}
	cmd.Flags().BoolVar(&remote, "remote", false, "read the image from its registry without storing it")
	cmd.Flags().StringVar(&raw, "raw", "", "print the exact bytes of the manifest, config or index")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, json, or a Go template on Docker's image inspect shape ('{{.Config.Entrypoint}}', '{{json .}}')")
	return cmd
}
