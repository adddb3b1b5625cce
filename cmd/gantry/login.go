package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gantry-build/gantry/pkg/registry"
)

func newLoginCommand(g *globals) *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [REGISTRY] [-u USER] [--password-stdin]",
		Short: "Store credentials for a registry in Docker's config (credential helpers honoured)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host := "docker.io"
			if len(args) == 1 {
				host = args[0]
			}
			user, password, err := credentials(cmd, user, password, passwordStdin)
			if err != nil {
				return err
			}
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
	cmd.Flags().StringVarP(&password, "password", "p", "", "password (insecure: it shows in the process list and your shell history)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

// credentials completes the user and password of a login as docker login
// does: the password from standard input with --password-stdin, and what is
// still missing asked for on the terminal, the password without echo.
func credentials(cmd *cobra.Command, user, password string, passwordStdin bool) (string, string, error) {
	in := cmd.InOrStdin()
	if password != "" {
		if passwordStdin {
			return "", "", errors.New("--password and --password-stdin are mutually exclusive")
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	}
	if passwordStdin {
		if user == "" {
			return "", "", errors.New("--password-stdin needs a username: give -u USER")
		}
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			return "", "", errors.New("no password on standard input")
		}
		return user, strings.TrimRight(line, "\r\n"), nil
	}
	if user != "" && password != "" {
		return user, password, nil
	}
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", "", errors.New("cannot ask for credentials: standard input is not a terminal; use -u USER --password-stdin")
	}
	prompt := cmd.ErrOrStderr()
	if user == "" {
		fmt.Fprint(prompt, "Username: ")
		line, err := readLine(f)
		if err != nil {
			return "", "", fmt.Errorf("read the username: %w", err)
		}
		if user = strings.TrimSpace(line); user == "" {
			return "", "", errors.New("no username given")
		}
	}
	if password == "" {
		fmt.Fprint(prompt, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", "", fmt.Errorf("read the password: %w", err)
		}
		if password = string(b); password == "" {
			return "", "", errors.New("no password given")
		}
	}
	return user, password, nil
}

// readLine reads up to a newline a byte at a time: nothing typed after it
// (the password) is taken from the terminal into a buffer.
func readLine(r io.Reader) (string, error) {
	var b []byte
	c := make([]byte, 1)
	for {
		n, err := r.Read(c)
		if n == 1 {
			if c[0] == '\n' {
				return strings.TrimSuffix(string(b), "\r"), nil
			}
			b = append(b, c[0])
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				return string(b), nil
			}
			return "", err
		}
	}
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
