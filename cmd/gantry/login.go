package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-build/gantry/pkg/registry"
)

func newLoginCommand(g *globals) *cobra.Command {
	var user string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [REGISTRY] -u USER --password-stdin",
		Short: "Store credentials for a registry in Docker's config (credential helpers honoured)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host := "docker.io"
			if len(args) == 1 {
				host = args[0]
			}
			if user == "" {
				return fmt.Errorf("give a username with -u")
			}
			if !passwordStdin {
				return fmt.Errorf("give the password on standard input with --password-stdin, so it stays out of your shell history")
			}
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("no password on standard input")
			}
			password := strings.TrimRight(line, "\r\n")
			rc, err := g.registry()
			if err != nil {
				return err
			}
			if err := rc.Login(cmd.Context(), host, user, password); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "username")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func newLogoutCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [REGISTRY]",
		Short: "Remove the credentials stored for a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host := "docker.io"
			if len(args) == 1 {
				host = args[0]
			}
			rc, err := g.registry()
			if err != nil {
				return err
			}
			if err := rc.Logout(host); errors.Is(err, registry.ErrNotLoggedIn) {
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s\n", host)
				return nil
			} else if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", host)
			return nil
		},
	}
}
